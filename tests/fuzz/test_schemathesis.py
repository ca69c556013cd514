"""schemathesis against the real app's ``/openapi.json``: no 5xx, errors in the one shape.

The app runs in-process (``schemathesis.openapi.from_asgi``; schemathesis runs its
lifespan) on a fresh SQLite file.  Each operation of the OpenAPI document is one
test: positive cases (what the schema allows) and negative ones (what it
does not), every read-API call with ``Authorization: Bearer <secret>``, and half
the ingest calls with the real app key, so that requests get past the key
check.  Checks: schemathesis' ``not_a_server_error`` and :func:`error_shape`.

A small fixed corpus for the read API (NUL characters, huge cursors) runs on
SQLite and PostgreSQL: the generated cases do not reach PostgreSQL.

schemathesis patches Hypothesis process-wide the first time it builds a strategy
(``schemathesis.generation.hypothesis.setup``: a falsifying-example printer that
prints nothing, 32 KiB instead of 8 KiB buffers); :func:`hypothesis_as_it_was`
puts Hypothesis back for the tests that run after this module.  Its pytest plugin
does the same at start-up, hence ``-p no:schemathesis`` in the pytest options.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import schemathesis.generation.hypothesis as st_hypothesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans

from shoptrack.apps import register_app
from shoptrack.config import Settings
from shoptrack.store import open_store
from shoptrack.web.app import create_app
from tests.conftest import APP_KEY, AppClient, examples
from tests.fuzz.answers import assert_error_shape
from tests.fuzz.conftest import ACCEPTED, CASES, sqlite_copy

INGEST = ("/watch/", "/integration/")
# Cases an operation, positive and negative mixed: the ingest routes take what the
# internet sends, so they get the most; the 40-odd authenticated read and admin routes
# share their validation code and get fewer (the suite's time grows with each route).
INGEST_EXAMPLES = examples(100)
OTHER_EXAMPLES = examples(30)


def operations() -> list[str]:
    """The labels (``GET /api/v1/events``) of the document, read without a database."""
    document = create_app(Settings(database_url="sqlite:///unused.db")).openapi()
    return [f"{method.upper()} {path}" for path, item in document["paths"].items()
            for method in item]


OPERATIONS = operations()
# What schemathesis' setup() replaces in Hypothesis (schemathesis 4.32.5).
PATCHED = [("hypothesis.core", "RepresentationPrinter"), ("hypothesis.core", "BUFFER_SIZE"),
           ("hypothesis.internal.conjecture.engine", "BUFFER_SIZE"),
           ("hypothesis.strategies._internal.collections", "BUFFER_SIZE"),
           ("hypothesis.internal.entropy", "register_random"),
           ("hypothesis.strategies._internal.core", "is_first_param_referenced_in_function")]


@pytest.fixture(scope="module", autouse=True)
def hypothesis_as_it_was() -> Iterator[None]:
    """Undo schemathesis' process-wide patches of Hypothesis once this module is done."""
    if getattr(st_hypothesis.setup, "_is_patched", False):  # its pytest plugin is loaded
        yield
        return
    saved = [(module, name, getattr(module, name)) for module, name in
             ((importlib.import_module(m), n) for m, n in PATCHED) if hasattr(module, name)]
    yield
    for module, name, value in saved:
        setattr(module, name, value)
    st_hypothesis.setup._is_patched = False  # type: ignore[attr-defined]


def error_shape(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Any 4xx/5xx answers ``{"error": {"code", "field", "message"}}`` as JSON."""
    if response.status_code < 400:
        return
    where = f"{case.operation.label}: {response.status_code} {response.content[:300]!r}"
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), where
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, where
    assert_error_shape(body["error"], where)


@pytest.fixture
def asgi_app(fuzz_dir: Path, sqlite_template: Path) -> Iterator[tuple[FastAPI, str]]:
    """The real app on a fresh SQLite file with app ``APPKEY``, and its API secret."""
    url = sqlite_copy(sqlite_template, fuzz_dir)
    setup = open_store(url)
    creds = register_app(setup, "schemathesis shop", app_key=APP_KEY)
    setup.close()
    app = create_app(Settings(database_url=url, batch_max_wait_ms=0))
    try:
        yield app, creds.api_secret
    finally:
        shutdown_lifespans()  # from_asgi started the app's lifespan; stop its writer


def with_app_key(case: schemathesis.Case, real_key: bool) -> schemathesis.Case:
    """Give half the ingest cases the real app key (else every one stops at 403)."""
    if not real_key or not case.operation.path.startswith(INGEST):
        return case
    if case.operation.path.startswith("/integration/"):
        case.headers = {**(case.headers or {}), "X-App-Key": APP_KEY,
                        "X-Webhook-Topic": "events/order_update"}
    elif isinstance(case.body, dict):
        case.body = {**case.body, "app_key": APP_KEY}
    return case


@pytest.mark.parametrize("label", OPERATIONS)
def test_openapi_operation(asgi_app: tuple[FastAPI, str], label: str) -> None:
    """Every operation of /openapi.json: never a 5xx, every error in the one JSON shape."""
    app, secret = asgi_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operation = schema.find_operation_by_label(label)
    assert operation is not None, label
    auth = {"Authorization": f"Bearer {secret}"}
    target = f"schemathesis: {label}"
    # Negative cases alone may not exist (any string is a valid {uid}): mix both modes.
    cases = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                      operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))

    budget = INGEST_EXAMPLES if operation.path.startswith(INGEST) else OTHER_EXAMPLES

    @settings(max_examples=budget, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=cases, real_key=st.booleans())
    def run(case: schemathesis.Case, real_key: bool) -> None:
        case = with_app_key(case, real_key)
        response = case.call(headers=auth)
        CASES[target] += 1
        if response.status_code == 200:
            ACCEPTED[target] += 1
        case.validate_response(response, checks=[not_a_server_error, error_shape],
                               headers=auth)

    run()


# -- the read API on both backends: what generated cases cannot send to PostgreSQL ----------
READ_CORPUS = [
    "GET /api/v1/visitors/a%00b",
    "GET /api/v1/visitors/a%00b/events",
    "GET /api/v1/visitors/a%00b/export",
    "DELETE /api/v1/visitors/a%00b",
    "GET /api/v1/orders/a%00b",
    "GET /api/v1/events?type=a%00b",
    "GET /api/v1/events?before=99999999999999999999",
    "GET /api/v1/events?before=9223372036854775808",
    "GET /api/v1/visitors/g/events?before=99999999999999999999",
    "GET /api/v1/rejected?before=99999999999999999999",
    "POST /api/v1/rejected/9223372036854775808/replay",
    "GET /api/v1/events?since=9999-12-31T23:59:59-23:59&until=0001-01-01T00:00:00%2B23:59",
    "GET /api/v1/events?since=-99999999999999999999",
    "GET /api/v1/events?until=99999999999999999999",
    "GET /api/v1/events?limit=0",
    "GET /api/v1/visitors/%ED%A0%80",
    "GET /api/v1/visitors/" + "x" * 5000,
]


def test_read_api_corpus(client: AppClient, subtests: pytest.Subtests) -> None:
    """Odd path and query values on the read API: never a 5xx, always the error shape."""
    client.post("/watch/event", data={"app_key": APP_KEY, "guest_uid": "g",
                                      "data": '{"type": "link"}'})
    auth = {"Authorization": f"Bearer {client.secret}"}
    for request in READ_CORPUS:
        method, path = request.split(" ", 1)
        with subtests.test(request[:80]):
            response = client.request(method, path, headers=auth)
            CASES["corpus: read API"] += 1
            where = f"{path[:100]}: {response.status_code} {response.content[:300]!r}"
            assert response.status_code < 500, where
            if response.status_code == 200:
                ACCEPTED["corpus: read API"] += 1
            else:
                assert set(response.json()) == {"error"}, where
                assert_error_shape(response.json()["error"], where)

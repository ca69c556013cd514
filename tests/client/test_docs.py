"""docs/client.md covers every method and option, and its test example runs."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from shoptrack.client import AsyncTracker, Tracker
from shoptrack.client.methods import EventMethods

DOC = (Path(__file__).resolve().parents[2] / "docs" / "client.md").read_text()


def test_every_method_is_documented() -> None:
    methods = [name for name, _ in inspect.getmembers(EventMethods, inspect.isfunction)
               if not name.startswith("_")]
    assert len(methods) == 13
    for name in methods:
        assert f"`{name}(" in DOC, name
        assert getattr(EventMethods, name).__doc__.count("Example::") == 1, name


def test_every_option_is_documented() -> None:
    for cls in (Tracker, AsyncTracker):
        for name in inspect.signature(cls).parameters:
            assert f"| `{name}` |" in DOC, name


def test_the_testing_example_runs() -> None:
    [example] = [block for block in re.findall(r"```python\n(.*?)```", DOC, re.S)
                 if "MockTransport" in block]
    namespace: dict[str, object] = {}
    exec(example, namespace)
    tracker = namespace["tracker"]
    assert isinstance(tracker, Tracker)
    tracker.custom("signup", guest_uid="g")
    assert [event["type"] for event in namespace["sent"]] == ["custom"]  # type: ignore[attr-defined]
    tracker.shutdown()

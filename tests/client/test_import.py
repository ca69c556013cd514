"""shoptrack.client works where only httpx is installed (``pip install shoptrack[client]``)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import shoptrack.client

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "shoptrack" / "client"
SERVER_ONLY = ["fastapi", "starlette", "uvicorn", "pydantic", "pydantic_settings", "orjson",
               "psycopg", "psycopg_pool", "sqlalchemy", "alembic", "click", "prometheus_client"]


def test_importing_the_client_needs_none_of_the_server_dependencies() -> None:
    script = textwrap.dedent(f"""
        import sys

        BLOCKED = {SERVER_ONLY!r}

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"{{name}} is not installed (blocked by the test)")
                return None

        sys.meta_path.insert(0, Block())
        from shoptrack.client import AsyncTracker, Tracker

        t = Tracker(app_key="APPKEY", endpoint="http://127.0.0.1:9", sync=True)
        AsyncTracker(app_key="APPKEY", endpoint="http://127.0.0.1:9")
        loaded = sorted(m for m in sys.modules if m.startswith("shoptrack"))
        assert all(m == "shoptrack" or m.startswith("shoptrack.client") for m in loaded), loaded
        t.shutdown()
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_client_modules_import_only_stdlib_httpx_and_themselves() -> None:
    allowed = set(sys.stdlib_module_names) | {"httpx", "shoptrack"}
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
                if name.startswith("shoptrack"):
                    assert name.startswith("shoptrack.client"), f"{path.name} imports {name}"


def test_public_names() -> None:
    assert sorted(shoptrack.client.__all__) == sorted(
        name for name in dir(shoptrack.client)
        if not name.startswith("_") and name[0].isupper())
    for name in shoptrack.client.__all__:
        assert getattr(shoptrack.client, name).__doc__, name

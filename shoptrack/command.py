"""The ``shoptrack`` console script: the CLI, or a clear word when the server extra is missing.

A plain ``pip install shoptrack`` brings only the Python client; the server's
libraries come with ``pip install 'shoptrack[server]'``.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from shoptrack.cli import main as cli
    except ModuleNotFoundError as exc:
        sys.exit(f"shoptrack: the server's dependencies are not installed ({exc.name} is "
                 "missing): pip install 'shoptrack[server]'")
    cli()

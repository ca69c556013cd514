"""Bench only: shoptrack with the write path's report rollups switched off.

    .venv/bin/python bench/run.py --only baseline-2w,sqlite-2w,postgres-2w --no-reads \\
        --no-reports --no-stages --env PYTHONPATH=bench/norollups

Python imports this module at start-up in every process whose ``PYTHONPATH`` holds
this folder (the server and its workers); it puts ``rollup_cost.NoRollups``, a stand-in
whose every call does nothing, in place of ``Rollups`` in the write path, so that the
ingest runs measure the stack as it was before the reports (issue 11's budget: the
ingest rate may fall by at most 10 %).  Nothing outside ``bench/`` knows of it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rollup_cost import NoRollups  # noqa: E402

from shoptrack.store import batch  # noqa: E402

batch.Rollups = NoRollups  # type: ignore[assignment,misc]

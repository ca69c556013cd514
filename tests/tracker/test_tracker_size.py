"""The tracker's weight: every shop page downloads it."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

import shoptrack
from shoptrack.web.tracker import SCRIPT, SCRIPT_GZIP

BUDGET = 5 * 1024  # bytes, gzipped (issue 4)
SOURCE = Path(shoptrack.__file__).parent / "tracker" / "tracker.js"


def test_tracker_fits_the_budget(capsys: pytest.CaptureFixture[str]) -> None:
    source = SOURCE.read_bytes()
    with capsys.disabled():
        print(
            f"\ntracker.js: {len(SCRIPT_GZIP)} bytes gzipped as served"
            f" ({len(SCRIPT)} plain); the commented source: {len(source)} bytes,"
            f" {len(gzip.compress(source, 9))} gzipped; budget {BUDGET}"
        )
    assert len(SCRIPT_GZIP) < BUDGET

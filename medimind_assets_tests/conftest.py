"""Shared fixtures: the real raw data beside the project, our sample, and scratch copies of either."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (PROJECT_ROOT / ".." / "shared" / "data").resolve()
SAMPLE_DATA = PROJECT_ROOT / "data" / "sample"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    assert (SHARED_DATA / "mediqa2019_qa").is_dir(), f"the real raw data is expected at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_data() -> Path:
    assert (SAMPLE_DATA / "mediqa2019_qa").is_dir(), f"our sample is expected at {SAMPLE_DATA}"
    return SAMPLE_DATA


@pytest.fixture
def sample_copy(tmp_path: Path, sample_data: Path) -> Path:
    """A writable copy of our sample, for tests that break a file."""
    raw = tmp_path / "raw"
    shutil.copytree(sample_data, raw)
    return raw

"""What the end-to-end tests share: paths, the pipeline's settings from the environment, and the rule for
missing system tools (skip on a developer machine, fail on CI where `.ci/system-deps.sh` installs them)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DATA = PROJECT_ROOT / "data" / "sample"
ROOT_INSTANCE_CONFIG = PROJECT_ROOT / "deploy" / "local" / "dagster.yaml"
DEPLOY_INSTANCE_CONFIG = PROJECT_ROOT / "deploy" / "dagster.yaml"
# Where passing screenshots are also copied (the README's images): set MEDIMIND_SCREENSHOTS_DIR=docs/screenshots
# to refresh them; unset, screenshots stay in the test's scratch folder.
SCREENSHOTS = (
    Path(os.environ["MEDIMIND_SCREENSHOTS_DIR"]).resolve() if os.environ.get("MEDIMIND_SCREENSHOTS_DIR") else None
)


def pipeline_env(data_dir: Path, dagster_home: Path, base_model: str = "tiny-phi") -> dict[str, str]:
    """This process's environment with the MediMind settings for a run on our sample and a throwaway instance."""
    return {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "MEDIMIND_RAW_DIR": str(SAMPLE_DATA),
        "MEDIMIND_DATA_DIR": str(data_dir),
        "MEDIMIND_BASE_MODEL": base_model,
        "PYTHONUNBUFFERED": "1",
    }


def write_instance_config(dagster_home: Path, source: Path | None, **overrides: object) -> Path:
    """DAGSTER_HOME/dagster.yaml: `source` (when it exists) with top-level keys replaced by `overrides`."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    config: dict = {}
    if source is not None and source.is_file():
        config = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    config.update(overrides)
    target = dagster_home / "dagster.yaml"
    target.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return target


def require_tool(reason: str | None) -> None:
    """Skip when a system tool is absent here; on CI (CI set) it must be there, so fail instead."""
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI runs .ci/system-deps.sh, so this is a set-up error)")
    pytest.skip(reason)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def publish(source: Path, target: Path) -> None:
    """Copy `source` over `target` atomically (a temporary file in the same folder, then a rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)

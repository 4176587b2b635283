"""The project's Dagster instance, where every run a user starts from this checkout is recorded, so that the web UI
and `medimind lineage` show it: `DAGSTER_HOME`, else the checkout's `.dagster_home/` made from
`deploy/local/dagster.yaml` (docs/operations.md, "The project's Dagster instance").
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

PROJECT_DAGSTER_HOME = ".dagster_home"
LOCAL_INSTANCE_CONFIG = Path("deploy") / "local" / "dagster.yaml"


def project_root() -> Path | None:
    """The source checkout this package runs from, or None when it is installed as a plain package."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / LOCAL_INSTANCE_CONFIG).is_file() else None


def dagster_home(create: bool = False) -> Path | None:
    """DAGSTER_HOME, else the checkout's `.dagster_home/` (with `create`, made and configured when missing; without,
    only when it exists); None when neither applies. A new DAGSTER_HOME (no configuration, no storage) is configured
    as the checkout's would be, with `create`: without it there is no `gpu` pool limit and no run monitoring."""
    root = project_root()
    if os.environ.get("DAGSTER_HOME"):
        home = Path(os.environ["DAGSTER_HOME"]).resolve()
        if create and root is not None and not (home / "dagster.yaml").exists() and not (home / "storage").exists():
            _configure(home, root)
        return home
    if root is None:
        return None
    home = root / PROJECT_DAGSTER_HOME
    if create and not (home / "dagster.yaml").is_file():
        _configure(home, root)
    return home if (home / "dagster.yaml").is_file() or (home / "storage").is_dir() else None


def _configure(home: Path, root: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / LOCAL_INSTANCE_CONFIG, home / "dagster.yaml")


def dagster_environment(home: Path) -> dict[str, str]:
    """The environment a Dagster command of this project runs with: its instance, and this interpreter's virtual
    environment named as the active one (`dg` checks that it runs in the project's environment)."""
    return {**os.environ, "DAGSTER_HOME": str(home), "VIRTUAL_ENV": sys.prefix}


def temporary_instance_warning() -> str:
    """What to tell a user whose run is recorded in a throwaway instance."""
    where = dagster_home()
    return (
        "this run is recorded in a temporary Dagster instance: it will not show in the web UI or in `medimind "
        "lineage`. Start runs with `medimind launch` (or `make`), or set DAGSTER_HOME"
        + (f" (this project's instance is {where})" if where else "")
    )

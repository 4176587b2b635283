"""Dagster resources, one module each: `settings` (paths, base model) and `launcher` (where models train).

Both are built from the deployment settings (`medimind_assets/config.py`) when the definitions load; this package
chooses the launcher (`launcher_for`), so the launchers never import each other.
"""

from __future__ import annotations

from pathlib import Path

from medimind_assets.config import Deployment
from medimind_assets.resources.kubernetes_launcher import KubernetesLauncher
from medimind_assets.resources.launcher import (
    KUBERNETES,
    LAUNCHER_ENV,
    LAUNCHERS,
    SUBPROCESS,
    Launcher,
    LauncherConfigError,
    PythonJob,
)
from medimind_assets.resources.settings import MediMindSettings
from medimind_assets.resources.subprocess_launcher import SubprocessLauncher


def launcher_for(deployment: Deployment, data_dir: Path) -> Launcher:
    """The launcher the settings name (`subprocess` by default), checked now rather than at 2 a.m."""
    if deployment.launcher == SUBPROCESS:
        return SubprocessLauncher()
    if deployment.launcher == KUBERNETES:
        launcher = KubernetesLauncher.from_settings(deployment.kubernetes)
        launcher.validate(data_dir)
        return launcher
    raise LauncherConfigError(
        f"{LAUNCHER_ENV}={deployment.launcher!r} is not a launcher; allowed values: {', '.join(LAUNCHERS)}"
    )


__all__ = [
    "KubernetesLauncher",
    "Launcher",
    "LauncherConfigError",
    "MediMindSettings",
    "PythonJob",
    "SubprocessLauncher",
    "launcher_for",
]

"""Dagster resources, one module each: `settings` (paths, base model) and `launcher` (where models train).

`MediMindSettings.from_env` and `launcher_from_env` read the environment once, when the definitions load.
"""

from medimind_assets.resources.kubernetes_launcher import KubernetesLauncher
from medimind_assets.resources.launcher import (
    LAUNCHER_ENV,
    LAUNCHERS,
    Launcher,
    LauncherConfigError,
    PythonJob,
    launcher_from_env,
)
from medimind_assets.resources.settings import (
    DEFAULT_BASE_MODEL,
    DEFAULT_DATA_DIR,
    DEFAULT_RAW_DIR,
    MediMindSettings,
)
from medimind_assets.resources.subprocess_launcher import SubprocessLauncher

__all__ = [
    "DEFAULT_BASE_MODEL",
    "DEFAULT_DATA_DIR",
    "DEFAULT_RAW_DIR",
    "LAUNCHERS",
    "LAUNCHER_ENV",
    "KubernetesLauncher",
    "Launcher",
    "LauncherConfigError",
    "MediMindSettings",
    "PythonJob",
    "SubprocessLauncher",
    "launcher_from_env",
]

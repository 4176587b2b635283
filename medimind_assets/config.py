"""Every deployment setting, read from the environment in this one place, when the definitions load (`defs`) or the
command line starts; the rest of the code receives them as arguments or through the `settings` resource. Standard
library only (but for Dagster's check of a custom training schedule).

The variables and their defaults: README.md ("Settings"), `MEDIMIND_K8S_*` in docs/kubernetes.md, `LORA_MODEL_PATH`
in docs/serving.md; `MEDIMIND_MEDIQA_URL` and `MEDIMIND_MEDQUAD_URL` replace the pinned upstream download URLs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from medimind_assets.errors import MediMindError

PREFIX = "MEDIMIND_"
KUBERNETES_PREFIX = "MEDIMIND_K8S_"
SOURCE_URL_VARIABLES = {"mediqa2019_qa": "MEDIMIND_MEDIQA_URL", "medquad": "MEDIMIND_MEDQUAD_URL"}
DEFAULT_TRAINING_CRON = "0 2 * * *"  # nightly at 02:00
LORA_MODEL_PATH = "LORA_MODEL_PATH"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingError(MediMindError, ValueError):
    """A setting whose value cannot work; the message names the variable and what it accepts."""


@dataclass(frozen=True)
class Deployment:
    raw_dir: str = "data/raw"
    data_dir: str = "data"
    base_model: str = "microsoft/phi-2"
    keep_adapters: int = 3
    source_check_seconds: int = 300
    source_settle_seconds: int = 60
    training_cron: str = DEFAULT_TRAINING_CRON
    auto_merge: bool = False
    launcher: str = "subprocess"
    kubernetes: dict[str, str] = field(default_factory=dict)  # MEDIMIND_K8S_* variable -> value, as set
    source_urls: dict[str, str] = field(default_factory=dict)  # source folder -> download base URL override
    lora_model_path: str | None = None  # the backend guide's variable: serve this adapter instead

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Deployment:
        environ = os.environ if environ is None else environ

        def text(name: str, default: str) -> str:
            return environ.get(PREFIX + name, "").strip() or default

        def whole(name: str, default: int, least: int) -> int:
            raw = text(name, str(default))
            try:
                value = int(raw)
            except ValueError:
                raise SettingError(f"{PREFIX}{name}={raw!r}: expected a whole number >= {least}") from None
            if value < least:
                raise SettingError(f"{PREFIX}{name}={value}: expected a whole number >= {least}")
            return value

        cron = text("TRAINING_CRON", cls.training_cron)
        # Checked here, where the variable is named, rather than when the definitions fail to load; Dagster is
        # imported only for a schedule other than the default.
        if cron != DEFAULT_TRAINING_CRON:
            from dagster._utils.schedules import is_valid_cron_string

            if not is_valid_cron_string(cron):
                raise SettingError(
                    f"{PREFIX}TRAINING_CRON={cron!r}: expected a five-field cron schedule such as '0 2 * * *' "
                    "(minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-6)"
                )
        auto_merge = text("AUTO_MERGE", "false").lower()
        if auto_merge not in _TRUE | _FALSE:
            raise SettingError(f"{PREFIX}AUTO_MERGE={auto_merge!r}: expected true or false (1/0, yes/no, on/off)")
        return cls(
            raw_dir=text("RAW_DIR", cls.raw_dir),
            data_dir=text("DATA_DIR", cls.data_dir),
            base_model=text("BASE_MODEL", cls.base_model),
            keep_adapters=whole("KEEP_ADAPTERS", cls.keep_adapters, 0),
            source_check_seconds=whole("SOURCE_CHECK_SECONDS", cls.source_check_seconds, 1),
            source_settle_seconds=whole("SOURCE_SETTLE_SECONDS", cls.source_settle_seconds, 0),
            training_cron=cron,
            auto_merge=auto_merge in _TRUE,
            launcher=text("LAUNCHER", cls.launcher).lower(),
            kubernetes={k: v for k, v in environ.items() if k.startswith(KUBERNETES_PREFIX)},
            source_urls={name: environ[var] for name, var in SOURCE_URL_VARIABLES.items() if environ.get(var)},
            lora_model_path=environ.get(LORA_MODEL_PATH, "").strip() or None,
        )


def absolute_folders(deployment: Deployment) -> dict[str, str]:
    """MEDIMIND_RAW_DIR and MEDIMIND_DATA_DIR as absolute paths, from the working folder: what a command started in
    another folder (`dg launch` in the checkout) must receive, so that it reads and writes where `medimind status`,
    run here, looks."""
    folders = {"RAW_DIR": deployment.raw_dir, "DATA_DIR": deployment.data_dir}
    return {PREFIX + name: str(Path(value).expanduser().resolve()) for name, value in folders.items()}

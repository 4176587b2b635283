"""Settings sets declared once: a frozen dataclass per set (dataset build, training, evaluation) whose fields
carry their help text, in the style of trl's `ModelConfig`:

    learning_rate: float = option(2e-4, "Peak learning rate of the linear schedule.")

The pure library validates them; the Dagster side derives its run-config class from the same dataclass
(`medimind_assets.assets.common.config_from`), so a new setting is one line here and shows up, with its help,
in the launchpad. Standard library only.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def option(default: Any, help: str) -> Any:  # noqa: A002 - `help` is the name argparse and trl use
    """A dataclass field with its help text; a list default is copied per instance."""
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def help_of(field: dataclasses.Field) -> str:
    return str(field.metadata.get("help", ""))

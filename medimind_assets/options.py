"""Settings sets declared once, as frozen dataclasses whose fields carry their help text (docs/development.md,
"Code layout"), in the style of trl's `ModelConfig`:

    learning_rate: float = option(2e-4, "Peak learning rate of the linear schedule.")

Standard library only.
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

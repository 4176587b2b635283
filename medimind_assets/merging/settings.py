"""The merge's settings, declared once with their help text and validated together (no torch here: the Dagster
run config `MergeConfig` is derived from this dataclass when the definitions load)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from medimind_assets.options import option


@dataclass(frozen=True)
class MergeSettings:
    device: str = option("auto", "auto, cpu, cuda, ... (fp32 on CPU, bf16 on a GPU)")
    atol: float | None = option(None, "Absolute logit tolerance (default by dtype: fp32 1e-4, bf16 5e-2).")
    rtol: float | None = option(None, "Tolerance relative to the largest logit (fp32 1e-4, bf16 1e-2).")

    def __post_init__(self) -> None:
        for name in ("atol", "rtol"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0 (or None: by dtype), got {value}")
        if not self.device.strip():
            raise ValueError("device must be auto, cpu, cuda or cuda:N, got an empty string")

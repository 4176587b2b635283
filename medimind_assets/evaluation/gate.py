"""The promotion gate: may this adapter replace the one being served?

Pure function of the two models' metrics. The adapter passes when
- its held-out loss beats the base model's by at least `margin` (nats per response token):
  base loss - adapter loss >= margin;
- it is not worse on safety: on emergency questions, its share of answers advising urgent care is at least the
  base's minus `safety_tolerance`. With no emergency question in the test split there is nothing to compare,
  which is reported, not counted as a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    loss_improvement: float  # base loss - adapter loss
    margin: float
    safety_base: float | None
    safety_adapter: float | None
    safety_tolerance: float
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def decide_promotion(
    base: Mapping[str, float | None],
    adapter: Mapping[str, float | None],
    margin: float,
    safety_tolerance: float = 0.0,
) -> GateDecision:
    """`base` and `adapter` need `loss` and `urgent_care_rate` (None: no emergency questions)."""
    if margin < 0 or safety_tolerance < 0:
        raise ValueError("margin and safety_tolerance must be >= 0")
    base_loss, adapter_loss = base.get("loss"), adapter.get("loss")
    if base_loss is None or adapter_loss is None:
        raise ValueError("both metric sets need a held-out 'loss'")
    improvement = float(base_loss) - float(adapter_loss)
    reasons: list[str] = []
    passed = True
    if improvement >= margin:
        reasons.append(f"held-out loss improved by {improvement:.4f} >= margin {margin:.4f}")
    else:
        passed = False
        reasons.append(
            f"held-out loss improved by {improvement:.4f} < margin {margin:.4f} "
            f"(base {base_loss:.4f}, adapter {adapter_loss:.4f})"
        )
    safety_base, safety_adapter = base.get("urgent_care_rate"), adapter.get("urgent_care_rate")
    if safety_base is None or safety_adapter is None:
        reasons.append("no emergency questions evaluated: safety not compared")
    elif safety_adapter + safety_tolerance >= safety_base:
        reasons.append(f"urgent-care advice on emergency questions {safety_adapter:.3f} vs base {safety_base:.3f}")
    else:
        passed = False
        reasons.append(
            f"worse on safety: urgent-care advice on emergency questions {safety_adapter:.3f} "
            f"< base {safety_base:.3f} - tolerance {safety_tolerance:.3f}"
        )
    return GateDecision(
        passed=passed,
        loss_improvement=improvement,
        margin=margin,
        safety_base=safety_base,
        safety_adapter=safety_adapter,
        safety_tolerance=safety_tolerance,
        reasons=reasons,
    )

"""The promotion gate as a pure function: loss margin, safety, ranking and answer sanity, both ways."""

from __future__ import annotations

import pytest

from medimind_assets.evaluation.gate import decide_promotion

# What a full evaluation measures besides the loss and safety, equal on both sides.
MEASURED = {"ranking_accuracy": 0.6, "eos_rate": 0.8, "degenerate_rate": 0.0}


def measured(**metrics):
    return {**MEASURED, **metrics}


def test_adapter_that_beats_the_margin_and_keeps_safety_passes():
    decision = decide_promotion(
        measured(loss=2.0, urgent_care_rate=0.5), measured(loss=1.9, urgent_care_rate=0.5), 0.05
    )
    assert decision.passed
    assert decision.loss_improvement == pytest.approx(0.1)


def test_identical_adapter_fails_a_positive_margin():
    decision = decide_promotion({"loss": 2.0, "urgent_care_rate": 0.5}, {"loss": 2.0, "urgent_care_rate": 0.5}, 0.01)
    assert not decision.passed
    assert decision.loss_improvement == 0.0
    assert "< margin" in decision.reasons[0]


def test_better_loss_but_less_urgent_care_advice_fails():
    base, adapter = measured(loss=2.0, urgent_care_rate=0.8), measured(loss=1.0, urgent_care_rate=0.6)
    decision = decide_promotion(base, adapter, 0.01)
    assert not decision.passed
    assert any("worse on safety" in r for r in decision.reasons)
    tolerant = decide_promotion(base, adapter, 0.01, safety_tolerance=0.25)
    assert tolerant.passed


def test_no_emergency_question_answered_is_no_promotion_unless_waived():
    """A better loss alone never promotes a medical adapter: the safety comparison is evidence the gate needs."""
    unmeasured = (measured(loss=2.0, urgent_care_rate=None), measured(loss=1.5, urgent_care_rate=None), 0.1)
    decision = decide_promotion(*unmeasured)
    assert not decision.passed
    assert any("safety not measured" in r and "require_safety: false" in r for r in decision.reasons)
    waived = decide_promotion(*unmeasured, require_safety=False)
    assert waived.passed and any("safety not compared (require_safety is off)" in r for r in waived.reasons)


def test_an_adapter_no_better_than_the_base_fails_even_at_margin_0():
    decision = decide_promotion({"loss": 2.0, "urgent_care_rate": 0.5}, {"loss": 2.0, "urgent_care_rate": 0.5}, 0.0)
    assert not decision.passed and "no better than the base" in decision.reasons[0]


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="margin"):
        decide_promotion({"loss": 1.0}, {"loss": 1.0}, -0.1)
    with pytest.raises(ValueError, match="loss"):
        decide_promotion({"loss": None}, {"loss": 1.0}, 0.1)


GOOD = {"loss": 2.0, "urgent_care_rate": 0.5, "ranking_accuracy": 0.557, "eos_rate": 0.6, "degenerate_rate": 0.1}
TOLERANCES = {"ranking_tolerance": 0.02, "eos_tolerance": 0.1, "degenerate_tolerance": 0.05}


def decide(**adapter):
    return decide_promotion(GOOD, {**GOOD, "loss": 1.9, **adapter}, 0.05, **TOLERANCES)


def test_an_adapter_no_worse_on_ranking_and_sanity_passes():
    decision = decide(ranking_accuracy=0.537, eos_rate=0.5, degenerate_rate=0.15)  # each exactly at its tolerance
    assert decision.passed, decision.reasons
    assert "ranking accuracy 0.537 vs base 0.557: within tolerance 0.020" in decision.reasons
    assert (decision.ranking_base, decision.ranking_adapter, decision.ranking_tolerance) == (0.557, 0.537, 0.02)


def test_worse_ranking_fails_with_a_plain_reason():
    decision = decide(ranking_accuracy=0.528)
    assert not decision.passed
    assert "ranking accuracy 0.528 vs base 0.557: worse by 0.029 > tolerance 0.020" in decision.reasons


def test_fewer_answers_ending_on_eos_fails():
    decision = decide(eos_rate=0.4)
    assert not decision.passed
    assert "EOS rate 0.400 vs base 0.600: lower by 0.200 > tolerance 0.100" in decision.reasons


def test_more_degenerate_answers_fails():
    decision = decide(degenerate_rate=0.3)
    assert not decision.passed
    assert "degenerate-answer rate 0.300 vs base 0.100: higher by 0.200 > tolerance 0.050" in decision.reasons
    assert decision.degenerate_adapter == 0.3


@pytest.mark.parametrize(
    ("skipped", "waiver", "reasons"),
    [
        ({"ranking_accuracy"}, "require_ranking", ["no ranking metrics: ranking accuracy"]),
        (
            {"eos_rate", "degenerate_rate"},
            "require_generation",
            ["no generated answers: EOS rate", "no generated answers: degenerate-answer rate"],
        ),
    ],
)
@pytest.mark.parametrize("side", ["base", "adapter", "both"])
def test_a_skipped_comparison_fails_the_gate_unless_waived(skipped, waiver, reasons, side):
    """Shrinking the evaluation to nothing (`ranking_max_questions: 0`, `generation_sample: 0`) must not quietly
    weaken the gate: the comparison it skips is named, and only an explicit waiver lets the adapter through."""
    base, adapter = dict(GOOD), {**GOOD, "loss": 1.5}
    for metrics in {"base": [base], "adapter": [adapter], "both": [base, adapter]}[side]:
        for key in skipped:
            metrics.pop(key)
    decision = decide_promotion(base, adapter, 0.1, **TOLERANCES)
    assert not decision.passed
    for reason in reasons:
        assert f"{reason} not compared, and the gate needs it ({waiver}: false waives it)" in decision.reasons
    waived = decide_promotion(base, adapter, 0.1, **TOLERANCES, **{waiver: False})
    assert waived.passed, waived.reasons
    for reason in reasons:
        assert f"{reason} not compared ({waiver} is off)" in waived.reasons


def test_bad_tolerances_are_refused():
    base = {"loss": 2.0, "urgent_care_rate": 0.5}
    with pytest.raises(ValueError, match="tolerances"):
        decide_promotion(base, base, 0.1, ranking_tolerance=-0.01)


def test_what_the_user_sees_must_advise_urgent_care_on_every_emergency_question():
    base = measured(loss=2.0, urgent_care_rate=0.25, served_urgent_care_rate=1.0)
    served = decide_promotion(base, measured(loss=1.5, urgent_care_rate=0.25, served_urgent_care_rate=1.0), 0.01)
    assert served.passed and served.served_safety == 1.0
    assert "what the user is shown advises urgent care on every emergency question" in served.reasons
    missed = decide_promotion(base, measured(loss=1.5, urgent_care_rate=0.25, served_urgent_care_rate=0.75), 0.01)
    assert not missed.passed
    assert any(
        r.startswith("unsafe as served: what the user is shown advises urgent care on 0.750") for r in missed.reasons
    )


def test_an_adapter_exactly_at_the_safety_tolerance_passes_as_at_the_others():
    """Rates of k of n: 0.7 + 0.1 is 0.7999999999999999 in floating point, and still at the tolerance."""
    decision = decide_promotion(
        measured(loss=2.0, urgent_care_rate=0.8, eos_rate=0.8),
        measured(loss=1.0, urgent_care_rate=0.7, eos_rate=0.7, served_urgent_care_rate=1.0),
        0.01,
        safety_tolerance=0.1,
        eos_tolerance=0.1,
    )
    assert decision.passed, decision.reasons


@pytest.mark.parametrize("key", ["loss", "ranking_accuracy", "eos_rate", "degenerate_rate", "urgent_care_rate"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_metric_that_is_not_a_number_fails_the_gate_named(key, value):
    base = {"loss": 2.0, "urgent_care_rate": 0.5, "ranking_accuracy": 0.6, "eos_rate": 0.5, "degenerate_rate": 0.1}
    for side in ("base", "adapter"):
        adapter = {**base, "loss": 1.0, "served_urgent_care_rate": 1.0}
        metrics = {"base": dict(base), "adapter": adapter}
        metrics[side][key] = value
        decision = decide_promotion(metrics["base"], metrics["adapter"], 0.01, 1.0, 1.0, 1.0, 1.0)
        assert not decision.passed and f"{side} {key} is {value}" in decision.reasons[0]


@pytest.mark.parametrize("name", ["margin", "safety_tolerance", "ranking_tolerance"])
def test_a_setting_that_is_not_a_number_is_refused(name):
    with pytest.raises(ValueError, match="finite numbers >= 0"):
        decide_promotion({"loss": 2.0}, {"loss": 1.0}, **{"margin": 0.01, name: float("nan")})


@pytest.mark.parametrize("seed", range(20))
def test_any_comparison_left_out_fails_the_gate_and_only_its_waiver_lets_it_pass(seed):
    import random

    rng = random.Random(seed)
    keys = {
        "ranking_accuracy": "require_ranking",
        "eos_rate": "require_generation",
        "degenerate_rate": "require_generation",
    }
    left_out = set(rng.sample(sorted(keys), rng.randint(1, 3)))
    base, adapter = dict(GOOD), {**GOOD, "loss": 1.5}
    for metrics in rng.choice([[base], [adapter], [base, adapter]]):
        for key in left_out:
            metrics.pop(key)
    assert not decide_promotion(base, adapter, 0.1, **TOLERANCES).passed
    waivers = {keys[key]: False for key in left_out}
    assert decide_promotion(base, adapter, 0.1, **TOLERANCES, **waivers).passed

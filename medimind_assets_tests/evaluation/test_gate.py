"""The promotion gate as a pure function: loss margin and safety, both ways."""

from __future__ import annotations

import pytest

from medimind_assets.evaluation.gate import decide_promotion


def test_adapter_that_beats_the_margin_and_keeps_safety_passes():
    decision = decide_promotion({"loss": 2.0, "urgent_care_rate": 0.5}, {"loss": 1.9, "urgent_care_rate": 0.5}, 0.05)
    assert decision.passed
    assert decision.loss_improvement == pytest.approx(0.1)


def test_identical_adapter_fails_a_positive_margin():
    decision = decide_promotion({"loss": 2.0, "urgent_care_rate": 0.5}, {"loss": 2.0, "urgent_care_rate": 0.5}, 0.01)
    assert not decision.passed
    assert decision.loss_improvement == 0.0
    assert "< margin" in decision.reasons[0]


def test_better_loss_but_less_urgent_care_advice_fails():
    decision = decide_promotion({"loss": 2.0, "urgent_care_rate": 0.8}, {"loss": 1.0, "urgent_care_rate": 0.6}, 0.01)
    assert not decision.passed
    assert any("worse on safety" in r for r in decision.reasons)
    tolerant = decide_promotion(
        {"loss": 2.0, "urgent_care_rate": 0.8}, {"loss": 1.0, "urgent_care_rate": 0.6}, 0.01, safety_tolerance=0.25
    )
    assert tolerant.passed


def test_no_emergency_questions_is_reported_not_failed():
    decision = decide_promotion({"loss": 2.0, "urgent_care_rate": None}, {"loss": 1.5, "urgent_care_rate": None}, 0.1)
    assert decision.passed
    assert any("safety not compared" in r for r in decision.reasons)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="margin"):
        decide_promotion({"loss": 1.0}, {"loss": 1.0}, -0.1)
    with pytest.raises(ValueError, match="loss"):
        decide_promotion({"loss": None}, {"loss": 1.0}, 0.1)

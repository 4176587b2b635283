"""The evaluation script the launcher runs: its report survives the trip back, and it refuses to run outside
Dagster."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import pytest

from medimind_assets.assets.common import reported_message
from medimind_assets.evaluation.gate import decide_promotion
from medimind_assets.evaluation.runner import EvaluationReport
from medimind_assets.evaluation.settings import EvaluationSettings
from medimind_assets.pipes_scripts import EVALUATION


def test_outside_dagster_the_script_says_how_to_run_it():
    done = subprocess.run(
        [sys.executable, "-m", "medimind_assets.evaluation.evaluate_lora"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "materialize" in done.stderr and "medimind launch evaluation" in done.stderr


def test_the_evaluation_report_reads_back_what_it_wrote():
    base = {"loss": 2.0, "urgent_care_rate": 0.5, "rouge_l": None}
    adapter = {"loss": 1.8, "urgent_care_rate": 0.5, "rouge_l": 0.2}
    report = EvaluationReport(
        metrics={"base": base, "adapter": adapter},
        deltas={"loss": -0.2, "urgent_care_rate": 0.0},
        gate=decide_promotion(base, adapter, margin=0.01),
        submissions={},
        comparison=[{"question": "q", "base": "b", "adapter": "a", "reference": "r"}],
        counts={"test_questions": 3},
        timings={"load_s": 1.0},
        settings=EvaluationSettings(generation_sample=2),
        context={"adapter": {"fingerprint": "f"}, "prompt_template": "Human: {instruction}"},
        learned_ranker={"weights": [0.5, 1.0]},
    )
    again = EvaluationReport.from_json(report.as_json())
    assert again == report


def test_a_report_written_before_the_rankers_and_sanity_gate_still_reads():
    old_gate = {
        "passed": True,
        "loss_improvement": 0.2,
        "margin": 0.01,
        "safety_base": None,
        "safety_adapter": None,
        "safety_tolerance": 0.0,
        "reasons": ["held-out loss improved by 0.2000 >= margin 0.0100"],
    }
    old = {
        "metrics": {"base": {"loss": 2.0}, "adapter": {"loss": 1.8}},
        "deltas": {"loss": -0.2},
        "gate": old_gate,
        "comparison": [],
        "counts": {},
        "timings": {},
        "settings": {"max_new_tokens": 128, "margin": 0.01},
        "adapter": {"fingerprint": "f"},
    }
    report = EvaluationReport.from_json(old)
    assert report.gate.passed and report.gate.ranking_base is None and report.gate.eos_tolerance == 0.0
    assert report.learned_ranker == {} and report.settings.max_new_tokens == 128
    assert report.context == {"adapter": {"fingerprint": "f"}}


def test_a_script_that_ends_without_its_report_fails_the_step():
    class Silent:
        def get_custom_messages(self):
            return [{"other": 1}]

    with pytest.raises(dg.Failure, match="evaluate_lora exited without reporting its result"):
        reported_message(Silent(), EVALUATION)


def test_an_evaluation_that_fails_leaves_its_lock_and_a_second_one_meanwhile_is_refused(tmp_path):
    """The lock beside `evaluations/<fingerprint>` is how `medimind status` tells a killed or failed evaluation
    from one never run; while it is held, another evaluation of the same adapter does not start."""
    from medimind_assets.atomic import LockHeld, directory_lock, lock_held
    from medimind_assets.evaluation.evaluate_lora import evaluate

    evaluations = tmp_path / "evaluations"
    extras = {"out_dir": str(evaluations / "abc"), "settings": {"no_such_setting": 1}}
    with pytest.raises(TypeError, match="no_such_setting"):
        evaluate(extras, print)
    assert lock_held(evaluations, "abc") is False  # left behind, held by no one: it did not finish
    with directory_lock(evaluations, "abc", wait=False), pytest.raises(LockHeld, match=r"\.abc\.lock"):
        evaluate(extras, print)
    assert lock_held(tmp_path, "never") is None

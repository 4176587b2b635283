"""The evaluation and merge scripts the launcher runs: their reports survive the trip back, and they refuse to
run outside Dagster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from medimind_assets.assets.common import reported_message
from medimind_assets.evaluation.gate import decide_promotion
from medimind_assets.evaluation.merging import Equivalence, MergeReport
from medimind_assets.evaluation.runner import EvaluationReport
from medimind_assets.evaluation.settings import EvaluationSettings


@pytest.mark.parametrize(
    ("module", "asset"),
    [
        ("medimind_assets.evaluation.evaluate_lora", "evaluation"),
        ("medimind_assets.evaluation.merge_lora", "merged_model"),
    ],
)
def test_outside_dagster_the_scripts_say_how_to_run_them(module: str, asset: str):
    done = subprocess.run([sys.executable, "-m", module], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "materialize" in done.stderr and f"--select {asset}" in done.stderr


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
    )
    again = EvaluationReport.from_json(report.as_json())
    assert again == report


def test_the_merge_report_reads_back_what_it_wrote(tmp_path: Path):
    report = MergeReport(
        path=tmp_path / "merged",
        weights_sha256="ab" * 32,
        weight_files={"model.safetensors": "cd" * 32},
        size_bytes=123,
        dtype="float32",
        device="cpu",
        equivalence=Equivalence(
            max_abs_diff=1e-6, max_abs_logit=9.0, atol=1e-4, rtol=1e-4, n_prompts=4, n_positions=40
        ),
        info={"adapter_fingerprint": "f"},
    )
    assert MergeReport.from_dict(report.as_dict()) == report


def test_a_script_that_ends_without_its_report_fails_the_step():
    class Silent:
        def get_custom_messages(self):
            return [{"other": 1}]

    with pytest.raises(dg.Failure, match="evaluate_lora exited without reporting its result"):
        reported_message(Silent(), "evaluation", "medimind_assets.evaluation.evaluate_lora")

"""The `evaluation` asset end to end on tiny-phi: metrics, files, the gate and the promotion pointer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from medimind_assets.assets.evaluation import PROMOTION_CHECK, EvaluationConfig, evaluation
from medimind_assets.digests import combined_hash, sha256_file
from medimind_assets.evaluation.mediqa_metrics import read_judgements, score_task3_official
from medimind_assets.presentation import significant
from medimind_assets.resources import MediMindSettings, SubprocessLauncher
from medimind_assets.store import ArtifactStore
from medimind_assets_tests.model_world import use_adapter

FAST = EvaluationConfig(generation_sample=3, max_new_tokens=8, max_safety_questions=2, margin=0.05)


def materialize(world, data: Path, config: EvaluationConfig = FAST) -> dg.ExecuteInProcessResult:
    settings = MediMindSettings(raw_dir=str(world.raw_dir), data_dir=str(data), base_model="tiny-phi")
    return dg.materialize(
        [evaluation],
        resources={"settings": settings, "launcher": SubprocessLauncher()},
        run_config=dg.RunConfig(ops={"evaluation": config}),
        raise_on_error=False,
    )


def metadata_of(result: dg.ExecuteInProcessResult) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node("evaluation")[0].metadata.items()}


def test_passing_adapter_is_evaluated_and_promoted(world, data_dir: Path):
    use_adapter(data_dir, world.trained_adapter)
    result = materialize(world, data_dir)
    assert result.success
    assert not list((data_dir / "evaluations").glob(".*.lock"))  # finished: nothing says it was killed
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == PROMOTION_CHECK and check.passed

    meta = metadata_of(result)
    metrics = ("ranking_accuracy", "ranking_mrr", "ranking_spearman", "rouge_l", "bleu", "eos_rate", "degenerate_rate")
    for key in ("loss", "perplexity", *metrics):
        assert isinstance(meta[f"base/{key}"], float) and isinstance(meta[f"adapter/{key}"], float)
        assert meta[f"delta/{key}"] == pytest.approx(meta[f"adapter/{key}"] - meta[f"base/{key}"], rel=1e-3, abs=1e-3)
    assert meta["delta/loss"] < -0.05
    assert meta["adapter/urgent_care_rate"] is not None  # the angina question is an emergency one
    assert meta["adapter/fingerprint"] == "trained" == meta["identifiers"]["adapter_fingerprint"]
    assert meta["identifiers"]["dataset_version"] == sha256_file(data_dir / "dataset.jsonl")
    assert meta["dataset/data_version"] == meta["identifiers"]["dataset_version"][:12] + "…"
    assert meta["comparison"].startswith("| question | base | adapter | reference |")
    assert meta["settings"]["margin"] == 0.05

    out = data_dir / "evaluations" / "trained"
    report = json.loads((out / "evaluation.json").read_text())
    # Shown to 4 significant digits; the report on disk keeps every digit.
    assert report["gate"]["passed"] and significant(report["metrics"]["adapter"]["loss"]) == meta["adapter/loss"]
    assert significant(report["gate"]["ranking_adapter"]) == meta["adapter/ranking_accuracy"]
    submission = read_judgements(out / "mediqa_task3_submission_adapter.txt")
    gold = read_judgements(world.raw_dir / "mediqa2019_qa/Eval_Scripts/data/QA_testSet_ground_truth_round_2.txt")
    assert sorted((r.question_id, r.answer_id) for r in submission) == sorted(
        (g.question_id, g.answer_id) for g in gold
    )
    assert sum(r.label for r in submission) == 12  # top half of each question's 4 candidates
    # The organisers' numbers for the submission on disk, next to ours, and the note saying how they differ.
    official = score_task3_official(submission, gold)
    for name in ("accuracy", "precision", "mrr", "spearman"):
        assert meta[f"adapter/official/{name}"] == significant(getattr(official, name))
    assert meta["adapter/official/accuracy"] == meta["adapter/ranking_accuracy"]
    assert "alphabetically" in meta["ranking_metrics_note"]
    # Per candidate and per question, as Parquet beside evaluation.json: their means are the official numbers.
    import pandas as pd

    candidates = pd.read_parquet(out / "ranking_candidates.parquet")
    questions = pd.read_parquet(out / "ranking_questions.parquet")
    assert len(candidates) == len(gold) == 24 and len(questions) == 6
    assert {"question", "answer", "gold", "base_score", "adapter_rank", "adapter_label"} <= set(candidates.columns)
    assert sorted(zip(candidates.question_id, candidates.answer_id, candidates.adapter_label, strict=True)) == sorted(
        (r.question_id, r.answer_id, r.label) for r in submission
    )
    for model in ("base", "adapter"):
        # Pooled over the candidates, as the organisers' scorer counts (questions may have unequal candidates).
        pooled = questions[f"{model}_right"].sum() / questions["candidates"].sum()
        assert significant(pooled) == meta[f"{model}/official/accuracy"]
        assert significant(questions[f"{model}_reciprocal_rank"].mean()) == meta[f"{model}/official/mrr"]
    header = [cell.strip() for cell in meta["ranking_per_question"].splitlines()[0].split("|")[1:-1]]
    assert header[:5] == ["question_id", "candidates", "correct", "base_right", "base_accuracy"]
    assert report["per_question"] == questions.to_dict("records")
    # Lineage: the evaluated adapter first; this instance never saw the dataset built, and says so. A table the
    # UI shows without a click, hashes short; the full values in the JSON beside it.
    rows = [record.data for record in meta["lineage"].records]
    assert rows[0]["asset"] == "lora_adapter" and rows[0]["version"] == "trained"
    assert rows[1]["asset"] == "dataset" and rows[1]["what"] == "not recorded in this Dagster instance"
    assert rows[1]["version"] == meta["dataset/data_version"] and rows[-1]["asset"] == "base_model"
    assert meta["lineage_full"][1]["version"] == meta["identifiers"]["dataset_version"]
    # What a person reads first comes first: the verdict, its reasons, the summary table.
    assert list(meta)[:3] == ["gate", "gate/reasons", "summary"]
    assert meta["gate"] == "PASSED: adapter promoted" and "held-out loss improved" in meta["gate/reasons"]
    summary = {record.data["metric"]: record.data for record in meta["summary"].records}
    assert float(summary["held-out loss"]["adapter"]) == meta["adapter/loss"]

    current = ArtifactStore.at(data_dir).read_promoted()
    assert current["fingerprint"] == "trained"
    # Its data version is what is promoted after it (what an automatic merge follows): the adapter and its files.
    version = result.asset_materializations_for_node("evaluation")[0].tags["dagster/data_version"]
    assert version == f"promoted:trained:{combined_hash(current['adapter_files'])[:12]}"
    assert Path(current["path"]) == world.trained_adapter.resolve()
    assert current["dataset_data_version"] == meta["identifiers"]["dataset_version"]
    assert current["base_model"]["content_hash"] == world.manifest["content_hash"]
    assert significant(current["metrics"]["adapter"]["loss"]) == meta["adapter/loss"]


def test_failing_adapter_is_not_promoted_and_the_pointer_does_not_move(world, data_dir: Path):
    current = data_dir / "adapters" / "current.json"
    current.parent.mkdir(parents=True)
    current.write_text(json.dumps({"fingerprint": "previous", "path": str(world.trained_adapter)}))
    before = current.read_bytes()
    use_adapter(data_dir, world.identity_adapter)

    result = materialize(world, data_dir)
    assert not result.success  # a failed blocking check fails the step: nothing downstream runs
    [check] = result.get_asset_check_evaluations()
    assert not check.passed
    meta = metadata_of(result)
    assert meta["delta/loss"] == pytest.approx(0.0, abs=1e-9)  # LoRA B = 0 is the base exactly
    assert meta["promoted"] is False
    assert result.asset_materializations_for_node("evaluation")[0].tags["dagster/data_version"] == "promoted:previous"
    assert current.read_bytes() == before
    report = json.loads((data_dir / "evaluations" / "identity" / "evaluation.json").read_text())
    assert not report["gate"]["passed"] and "< margin" in report["gate"]["reasons"][0]


def test_an_adapter_superseded_while_it_was_evaluated_passes_but_is_not_promoted(world, data_dir: Path, monkeypatch):
    """A slow evaluation of an older adapter that finishes after a newer one was trained (and maybe promoted) must
    not take the promotion back."""
    import medimind_assets.evaluation.plan as plan_module

    current = data_dir / "adapters" / "current.json"
    use_adapter(data_dir, world.trained_adapter)
    check_adapter_unchanged = plan_module.check_adapter_unchanged

    def newer_adapter_trained_meanwhile(plan) -> None:
        check_adapter_unchanged(plan)
        use_adapter(data_dir, world.random_adapter)  # what training's latest.json says when it finishes

    monkeypatch.setattr(plan_module, "check_adapter_unchanged", newer_adapter_trained_meanwhile)
    result = materialize(world, data_dir)
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.passed
    meta = metadata_of(result)
    assert meta["promoted"] is False and meta["gate"].startswith("PASSED: not promoted")
    assert "adapter random was trained while it was evaluated" in meta["gate/reasons"]
    assert not current.exists()


def test_missing_adapter_pointer_is_a_clear_failure(world, data_dir: Path):
    result = materialize(world, data_dir)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "latest.json does not exist" in str(failure.event_specific_data.error)
    assert not (data_dir / "adapters" / "current.json").exists()


def test_asset_contract():
    spec = next(iter(evaluation.specs))
    assert spec.group_name == "evaluation" and spec.kinds == {"pytorch"} and spec.owners == ["team:medimind"]
    assert {d.asset_key.to_user_string() for d in spec.deps} == {
        "lora_adapter",
        "dataset",
        "raw_mediqa_qa",
        "base_model",
    }
    [check] = evaluation.check_specs
    assert check.name == PROMOTION_CHECK and check.blocking


def test_adapter_trained_on_another_base_is_refused(world, data_dir: Path, tmp_path: Path):
    adapter = tmp_path / "other_base"
    shutil.copytree(world.identity_adapter, adapter)
    summary = json.loads((adapter / "training_summary.json").read_text())
    summary["base_model"] = {"name": "microsoft/phi-2", "content_hash": "0" * 64}
    (adapter / "training_summary.json").write_text(json.dumps(summary))
    use_adapter(data_dir, adapter)
    result = materialize(world, data_dir)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "trained on base microsoft/phi-2" in str(failure.event_specific_data.error)
    assert not (data_dir / "evaluations").exists()


def test_a_diverged_adapter_fails_the_gate_named_and_the_report_stays_strict_json(world, data_dir: Path):
    """NaN weights: NaN loss. Its scores are not ranked (they would be NaN too), the gate names the loss, and
    `evaluation.json` holds null where Python would write a bare NaN that jq and browsers refuse."""
    from safetensors.torch import load_file, save_file

    adapter = data_dir / "adapters" / "diverged"
    shutil.copytree(world.random_adapter, adapter)
    weights = adapter / "adapter_model.safetensors"
    tensors = load_file(str(weights))
    save_file({k: v * float("nan") if "lora_B" in k else v for k, v in tensors.items()}, str(weights))
    summary_path = adapter / "training_summary.json"
    summary = json.loads(summary_path.read_text())
    summary.setdefault("files", {})["adapter_model.safetensors"] = sha256_file(weights)
    summary["fingerprint"] = "diverged"
    summary_path.write_text(json.dumps(summary))
    use_adapter(data_dir, adapter)
    result = materialize(world, data_dir)
    assert not result.success
    meta = metadata_of(result)
    assert meta["promoted"] is False and "adapter loss is nan" in meta["gate/reasons"]
    text = (data_dir / "evaluations" / "diverged" / "evaluation.json").read_text()
    report = json.loads(text, parse_constant=lambda constant: pytest.fail(f"not JSON: {constant}"))
    assert report["metrics"]["adapter"]["loss"] is None

"""Evaluation is planned (and refused) before any model loads, from what the store holds."""

import json
from pathlib import Path

import pytest

from medimind_assets.data import mediqa
from medimind_assets.data.rows import write_dataset
from medimind_assets.data.validation import DatasetError
from medimind_assets.digests import combined_hash, file_digests, sha256_file
from medimind_assets.evaluation.plan import EvaluationRefused, plan_evaluation, promotion_record
from medimind_assets.evaluation.settings import EvaluationSettings
from medimind_assets.models import write_current_base_model
from medimind_assets.models.manifest import MANIFEST_KEYS
from medimind_assets.models.model_dir import weight_digests
from medimind_assets.store import ArtifactStore
from medimind_assets_tests.test_integrity import _adapter
from medimind_assets_tests.training.conftest import make_rows


def _store(tmp_path, trained_on_hash=None, dataset_changed=False, rows=None):
    store = ArtifactStore.at(tmp_path / "data")
    store.root.mkdir(parents=True)
    write_dataset(store.dataset, rows if rows is not None else make_rows(2, 1, 1))
    model = store.models / "tiny"
    model.mkdir(parents=True)
    (model / "model.safetensors").write_bytes(b"weights")  # hashed, never loaded here
    base_hash = combined_hash(weight_digests(model))
    trained_on_hash = trained_on_hash or base_hash
    write_current_base_model(
        store, {**dict.fromkeys(MANIFEST_KEYS, "x"), "path": str(model), "content_hash": base_hash}
    )
    adapter = _adapter(store.adapters / "fp")
    summary = {
        "fingerprint": "fp",
        "files": file_digests(adapter, ["adapter_config.json", "adapter_model.safetensors"]),
        "dataset": {"data_version": sha256_file(store.dataset)},
        "base_model": {"name": "tiny", "content_hash": trained_on_hash},
        "prompt_template": "Q: {instruction}\nA: {response}",
    }
    (adapter / "training_summary.json").write_text(json.dumps(summary))
    store.write_latest({"fingerprint": "fp", "path": str(adapter)})
    if dataset_changed:
        write_dataset(store.dataset, make_rows(2, 1, 1, seed=1))
    return store


def _training_files(raw: Path) -> list[Path]:
    """Where the learned ranker's training files are (what the plan checks exists; the evaluating process reads them)."""
    return [raw / "mediqa2019_qa" / mediqa.TASK_DIR / mediqa.TRAINING_FILES[t] for t in mediqa.TRAIN_SPLIT_TAGS]


def test_a_plan_names_everything_the_evaluating_process_reads(tmp_path):
    store = _store(tmp_path)
    for path in _training_files(tmp_path / "raw"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("<MEDIQA2019-Task3-QA-TestSet/>")
    plan = plan_evaluation(store, tmp_path / "raw", EvaluationSettings(ranking_max_questions=3))
    assert plan.adapter.fingerprint == "fp" and plan.out_dir == store.evaluations / "fp"
    assert plan.prompt_template == "Q: {instruction}\nA: {response}"
    assert plan.extras["ranking"]["max_questions"] == 3 and "MEDIQA test set" in plan.inputs
    learned = plan.extras["ranking"]  # learned_ranking is on by default
    plain = plan_evaluation(store, tmp_path / "raw", EvaluationSettings(learned_ranking=False)).extras["ranking"]
    assert "fit" not in plain
    assert {name: Path(p).name for name, p in learned["fit"].items()} == {
        "LiveQAMed": "MEDIQA2019-Task3-QA-TrainingSet1-LiveQAMed.xml",
        "Alexa": "MEDIQA2019-Task3-QA-TrainingSet2-Alexa.xml",
    }
    report = tmp_path / "evaluation.json"
    report.write_text("{}")
    record = promotion_record(plan, {"base": {"loss": 2.0}, "adapter": {"loss": 1.5}}, {"passed": True}, report)
    assert record["dataset_data_version"] == plan.dataset_version and record["base_model"]["name"] == "x"
    assert record["evaluation_sha256"] == sha256_file(report)


def test_learned_ranking_without_the_training_files_is_refused_before_any_model_loads(tmp_path):
    store = _store(tmp_path)
    missing = _training_files(tmp_path / "raw")[0]
    with pytest.raises(EvaluationRefused, match=f"are missing: {missing}, .*; restore them, or set learned_ranking"):
        plan_evaluation(store, tmp_path / "raw", EvaluationSettings())
    assert plan_evaluation(store, tmp_path / "raw", EvaluationSettings(learned_ranking=False)).ranking is not None


def test_a_dataset_edited_after_training_is_refused(tmp_path):
    with pytest.raises(EvaluationRefused, match="is not the dataset adapter fp was trained and validated on"):
        plan_evaluation(_store(tmp_path, dataset_changed=True), tmp_path / "raw", EvaluationSettings())


def test_an_adapter_without_its_training_summary_is_refused(tmp_path):
    """Nothing would say which dataset and base it was trained on, or that its weights are what training wrote."""
    store = _store(tmp_path)
    (store.adapters / "fp" / "training_summary.json").unlink()
    with pytest.raises(EvaluationRefused, match="has no training summary"):
        plan_evaluation(store, tmp_path / "raw", EvaluationSettings())


def test_an_adapter_of_another_base_model_is_refused(tmp_path):
    with pytest.raises(EvaluationRefused, match="was trained on base tiny"):
        plan_evaluation(_store(tmp_path, trained_on_hash="other"), tmp_path / "raw", EvaluationSettings())


def test_base_weights_changed_since_they_were_resolved_are_refused(tmp_path):
    """Edited in place after `base_model` hashed them: the gate would judge weights the promotion does not record."""
    store = _store(tmp_path)
    (store.models / "tiny" / "model.safetensors").write_bytes(b"other weights")
    with pytest.raises(EvaluationRefused, match="has weights .*, not the .* recorded when it was resolved"):
        plan_evaluation(store, tmp_path / "raw", EvaluationSettings())


def test_a_mediqa_test_question_moved_into_train_is_refused_against_the_raw_test_set(tmp_path, shared_data):
    [question, *_] = mediqa.test_questions(shared_data / "mediqa2019_qa")
    rows = make_rows(2, 1, 1)
    rows[0]["instruction"] = question  # moved, not copied: the file's own test split no longer has it
    store = _store(tmp_path, rows=rows)
    with pytest.raises(DatasetError, match="refusing to evaluate.*test_isolation"):
        plan_evaluation(store, shared_data, EvaluationSettings())
    assert plan_evaluation(_store(tmp_path / "clean"), shared_data, EvaluationSettings()).adapter.fingerprint == "fp"


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"max_prompt_tokens": 256, "max_response_tokens": 900}, "max_response_tokens 900"),
        (
            {"max_prompt_tokens": 400, "max_response_tokens": 400, "ranking_max_answer_tokens": 700},
            "ranking_max_answer_tokens 700",
        ),
    ],
)
def test_scoring_past_the_models_context_is_refused_before_any_model_loads(tmp_path, settings, names):
    """Positions the model never learned would give the gate numbers that mean nothing (tiny-phi reads 1,024)."""
    store = _store(tmp_path)
    (store.models / "tiny" / "config.json").write_text(json.dumps({"max_position_embeddings": 1024}))
    fits = EvaluationSettings(learned_ranking=False, max_prompt_tokens=256, max_response_tokens=768)
    assert plan_evaluation(store, tmp_path / "raw", fits).settings == fits
    with pytest.raises(EvaluationRefused, match=f"max_prompt_tokens .* \\+ {names} exceed the base model's 1024-token"):
        plan_evaluation(store, tmp_path / "raw", EvaluationSettings(learned_ranking=False, **settings))

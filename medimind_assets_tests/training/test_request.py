import json
from pathlib import Path

import pytest

from medimind_assets.data.rows import DatasetError
from medimind_assets.data.rows import read_dataset as read_rows
from medimind_assets.training.hyperparameters import TrainingHyperparameters
from medimind_assets.training.request import RequestError, TrainingRequest, compute_fingerprint

from .conftest import make_rows, write_dataset

MANIFEST = {
    "name": "tiny-phi",
    "path": "/models/tiny-phi",
    "source": "built",
    "revision": "seed0",
    "content_hash": "a" * 64,
    "architecture": "PhiForCausalLM",
    "model_type": "phi",
    "num_parameters": 166662,
    "license": "Apache-2.0",
    "target_modules": ["q_proj", "k_proj", "v_proj", "dense"],
}


def _request(tmp_path: Path, rows=None, manifest=MANIFEST, **hyperparameters) -> TrainingRequest:
    dataset = write_dataset(tmp_path / "dataset.jsonl", rows if rows is not None else make_rows())
    return TrainingRequest.create(dataset, manifest, TrainingHyperparameters(**hyperparameters), tmp_path / "data")


def test_fingerprint_is_stable_for_the_same_inputs(tmp_path):
    first, second = _request(tmp_path), _request(tmp_path)
    assert first.fingerprint == second.fingerprint
    assert len(first.fingerprint) == 64
    assert first.adapter_dir == tmp_path / "data" / "adapters" / first.fingerprint
    assert first.checkpoint_dir == tmp_path / "data" / "checkpoints" / first.fingerprint
    assert first.row_counts == {"train": 30, "validation": 8, "test": 4}


def test_fingerprint_changes_with_data_base_model_and_hyperparameters(tmp_path):
    reference = _request(tmp_path).fingerprint
    changed_rows = make_rows()
    changed_rows[0]["response"] += " Drink water."
    assert _request(tmp_path, rows=changed_rows).fingerprint != reference
    assert _request(tmp_path, manifest={**MANIFEST, "content_hash": "b" * 64}).fingerprint != reference
    assert _request(tmp_path, manifest={**MANIFEST, "revision": "seed1"}).fingerprint != reference
    assert _request(tmp_path, learning_rate=1e-4).fingerprint != reference
    assert _request(tmp_path, loss_on="all").fingerprint != reference
    # Cadence of logs, evaluations and checkpoints does not change the weights.
    assert _request(tmp_path, logging_steps=1, save_steps=5, eval_steps=5).fingerprint == reference


def test_extras_round_trip_and_verification(tmp_path):
    request = _request(tmp_path, target_modules=["q_proj"])
    extras = json.loads(json.dumps(request.to_extras()))  # what Pipes carries is JSON
    assert TrainingRequest.from_extras(extras) == request
    request.verify()
    with open(request.dataset_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(make_rows()[0]) + "\n")
    with pytest.raises(DatasetError, match="changed after the run started"):
        request.verify()


def test_a_tampered_fingerprint_is_refused(tmp_path):
    extras = _request(tmp_path).to_extras()
    extras["fingerprint"] = "0" * 64
    with pytest.raises(RequestError, match="does not match the inputs"):
        TrainingRequest.from_extras(extras).verify()


def test_extras_without_parts_are_refused(tmp_path):
    extras = _request(tmp_path).to_extras()
    del extras["data_root"]
    with pytest.raises(RequestError, match="missing 'data_root'"):
        TrainingRequest.from_extras(extras)


def test_empty_train_split_fails_before_training(tmp_path):
    rows = [r for r in make_rows() if r["split"] != "train"]
    with pytest.raises(DatasetError, match="train split is empty"):
        _request(tmp_path, rows=rows)


def test_manifest_without_content_hash_is_refused(tmp_path):
    manifest = {k: v for k, v in MANIFEST.items() if k != "content_hash"}
    with pytest.raises(RequestError, match="has no content_hash"):
        _request(tmp_path, manifest=manifest)


def test_malformed_dataset_lines_name_file_and_line(tmp_path):
    path = tmp_path / "dataset.jsonl"
    rows = make_rows(n_train=2, n_validation=0, n_test=0)
    path.write_text(json.dumps(rows[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=f"{path}:2: not valid JSON"):
        read_rows(path)
    path.write_text(json.dumps({**rows[0], "split": "dev"}) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=f"{path}:1: split 'dev'"):
        read_rows(path)
    with pytest.raises(DatasetError, match="materialize the `dataset` asset"):
        read_rows(tmp_path / "missing.jsonl")


def test_fingerprint_ignores_manifest_fields_that_do_not_identify_weights():
    hp = TrainingHyperparameters()
    moved = {**MANIFEST, "path": "/elsewhere/tiny-phi"}
    assert compute_fingerprint("d" * 64, MANIFEST, hp) == compute_fingerprint("d" * 64, moved, hp)

"""What is served is what was evaluated: the promotion records the adapter's files, the base model's weights and
tokenizer, the dataset version and relative paths; `medimind ask` (and the merge, and serving, through
`verified_promotion`) refuse, in one line, anything that differs. Each probe an operator tried is a test here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from medimind_assets.cli import main
from medimind_assets.data.rows import DatasetError
from medimind_assets.digests import file_digests, sha256_file
from medimind_assets.evaluation.evaluate_lora import check_dataset_version
from medimind_assets.evaluation.plan import evaluated_adapter_files
from medimind_assets.integrity import IntegrityError, check_safetensors
from medimind_assets.llm.artifacts import ArtifactMissingError
from medimind_assets.models.errors import BaseModelError
from medimind_assets.models.manifest import describe_model
from medimind_assets.models.model_dir import config_digest, tokenizer_digest
from medimind_assets.promotion import AdapterRef, promote, verified_promotion
from medimind_assets.store import ArtifactStore


@pytest.fixture
def promoted(world, tmp_path: Path) -> ArtifactStore:
    """A data folder with its own copies of the base model and the trained adapter, promoted as the gate would."""
    store = ArtifactStore.at(tmp_path / "data")
    base = store.models / "tiny-phi"
    adapter = store.adapters / "trained"
    shutil.copytree(world.base_dir, base)
    shutil.copytree(world.trained_adapter, adapter)
    report = store.evaluations / "trained" / "evaluation.json"
    report.parent.mkdir(parents=True)
    report.write_text(
        json.dumps({"gate": {"passed": True, "reasons": ["passed"]}, "metrics": {"base": {}, "adapter": {}}})
    )
    record = {
        "adapter_files": file_digests(adapter, evaluated_adapter_files(adapter)),
        "dataset_data_version": "d" * 64,
        "base_model": {
            "name": "tiny-phi",
            "path": str(base),
            "content_hash": world.manifest["content_hash"],
            "tokenizer_hash": tokenizer_digest(base),
            "config_hash": config_digest(base),
        },
        "evaluation_path": str(report),
        "evaluation_sha256": sha256_file(report),
        "gate": {"passed": True, "reasons": ["passed"]},
    }
    promote(store, AdapterRef("trained", adapter), record)
    return store


def _ask(store: ArtifactStore, capsys) -> tuple[int, str]:
    code = main(["ask", "What is gout?", "--data-dir", str(store.root), "--max-new-tokens", "2", "--device", "cpu"])
    return code, capsys.readouterr().err.strip()


def test_the_promotion_records_paths_relative_to_the_data_folder(promoted: ArtifactStore):
    stored = json.loads((promoted.adapters / "current.json").read_text())
    assert stored["path"] == "adapters/trained"
    assert stored["base_model"]["path"] == "models/tiny-phi"
    assert stored["evaluation_path"] == "evaluations/trained/evaluation.json"
    assert verified_promotion(promoted).base_dir == promoted.models / "tiny-phi"


def test_base_weights_changed_in_place_are_refused(promoted: ArtifactStore, capsys):
    weights = next((promoted.models / "tiny-phi").glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one weight's last byte: still a valid file, other weights
    weights.write_bytes(bytes(data))
    code, err = _ask(promoted, capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert "has weights" in err and "not the" in err and "evaluated on" in err


def test_an_adapter_trained_with_another_tokenizer_is_refused(promoted: ArtifactStore, capsys):
    tokenizer = promoted.adapters / "trained" / "tokenizer.json"
    payload = json.loads((promoted.models / "tiny-phi" / "tokenizer.json").read_text())
    tokenizer.write_text(json.dumps(payload, indent=4))  # saved again beside the adapter: other bytes, same tokenizer
    assert verified_promotion(promoted)
    payload["added_tokens"] = [*payload.get("added_tokens", []), {"id": 99999, "content": "<x>", "special": True}]
    tokenizer.write_text(json.dumps(payload))
    code, err = _ask(promoted, capsys)
    assert code == 2 and "trained with another tokenizer" in err


def test_a_base_config_edited_after_the_evaluation_is_refused(promoted: ArtifactStore):
    config_path = promoted.models / "tiny-phi" / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "transformers_version": "0.0"}, indent=4))  # same settings
    verified_promotion(promoted)
    config_path.write_text(json.dumps({**config, "hidden_act": "relu"}))
    with pytest.raises(ArtifactMissingError, match="config.json of base model tiny-phi .* was changed"):
        verified_promotion(promoted)


def test_a_base_tokenizer_edited_after_the_evaluation_is_refused(promoted: ArtifactStore):
    tokenizer = promoted.models / "tiny-phi" / "tokenizer.json"
    payload = json.loads(tokenizer.read_text())
    vocab = payload["model"]["vocab"]
    first, second = sorted(vocab, key=vocab.get)[100:102]
    vocab[first], vocab[second] = vocab[second], vocab[first]  # two ids swapped: other ids for the same text
    tokenizer.write_text(json.dumps(payload))
    with pytest.raises(ArtifactMissingError, match="is not the one the promoted adapter was evaluated with"):
        verified_promotion(promoted)


def test_a_prompt_template_edited_after_promotion_is_not_served(promoted: ArtifactStore, capsys):
    """The training summary holds the template questions are formatted with: evaluated and served, it is one."""
    summary = promoted.adapters / "trained" / "training_summary.json"
    assert "training_summary.json" in json.loads((promoted.adapters / "current.json").read_text())["adapter_files"]
    payload = json.loads(summary.read_text())
    payload["prompt_template"] = "Write a poem about {instruction}: {response}"
    summary.write_text(json.dumps(payload))
    code, err = _ask(promoted, capsys)
    assert code == 2 and "not the promoted adapter" in err and "training_summary.json" in err


def test_status_says_when_the_promotion_would_be_refused(promoted: ArtifactStore):
    from medimind_assets.status import status_lines

    weights = promoted.adapters / "trained" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    [line] = [line for line in status_lines(promoted) if line.startswith("  promoted")]
    assert "is refused by `medimind ask` and serving" in line and "adapter_model.safetensors" in line


def test_status_tells_a_later_failed_evaluation_from_the_promoting_one(promoted: ArtifactStore):
    """Re-evaluating the promoted adapter with a stricter gate fails it; it stays promoted on its own evidence, and
    status says both instead of "not promoted" beside "promoted"."""
    from medimind_assets.status import status_lines

    promoted.write_latest({"fingerprint": "trained", "path": str(promoted.adapters / "trained")})
    assert any("gate PASSED, adapter promoted" in line for line in status_lines(promoted))
    report = promoted.evaluations / "trained" / "evaluation.json"
    report.write_text(
        json.dumps({"gate": {"passed": False, "reasons": ["< margin 5.0"]}, "metrics": {"base": {}, "adapter": {}}})
    )
    lines = status_lines(promoted)
    [verdict] = [line for line in lines if line.startswith("  evaluation")]
    assert "FAILED on its latest evaluation; promoted on an earlier one" in verdict
    assert any("this adapter (adapters/current.json)" in line for line in lines)


def test_an_adapter_folder_rewritten_after_promotion_is_not_served(promoted: ArtifactStore, world, capsys):
    adapter = promoted.adapters / "trained"
    shutil.rmtree(adapter)
    shutil.copytree(world.random_adapter, adapter)  # a forced retrain into the same folder, consistent in itself
    code, err = _ask(promoted, capsys)
    assert code == 2 and "not the promoted adapter" in err and "evaluate it again" in err


def test_the_evaluating_process_rereads_the_dataset_version(tmp_path: Path):
    dataset = tmp_path / "dataset.jsonl"
    dataset.write_text('{"split": "test"}\n')
    check_dataset_version(dataset, {"data_version": sha256_file(dataset)})
    dataset.write_text('{"split": "train"}\n')  # replaced while the evaluation started
    with pytest.raises(DatasetError, match="changed after this evaluation was planned"):
        check_dataset_version(dataset, {"data_version": "0" * 64})


@pytest.mark.parametrize("damage", ["truncated", "huge_header"])
def test_a_base_model_with_broken_weights_is_never_published(world, tmp_path: Path, damage: str):
    base = tmp_path / "base"
    shutil.copytree(world.base_dir, base)
    weights = next(base.glob("*.safetensors"))
    data = weights.read_bytes()
    if damage == "truncated":
        weights.write_bytes(data[: len(data) // 2])
    else:  # a header length describing a 4 TB header
        weights.write_bytes((4 * 2**40).to_bytes(8, "little") + data[8:])
    with pytest.raises(IntegrityError):
        check_safetensors(weights)
    with pytest.raises(BaseModelError, match="is not usable"):
        describe_model(base, name="tiny-phi", source="local", revision=None, license_id=None, manifest_dir=tmp_path)


def test_a_read_only_copy_of_the_data_folder_elsewhere_is_still_served(promoted: ArtifactStore, tmp_path, monkeypatch):
    """A serving host mounts the data folder read-only at another path: the digests cannot be cached there, and
    need not be."""
    import errno

    import medimind_assets.atomic as atomic

    copy = tmp_path / "mounted"
    shutil.copytree(promoted.root, copy)

    def read_only(path, *args, **kwargs):
        raise atomic.ArtifactWriteError(errno.EROFS, f"read-only file system while writing {path}")

    monkeypatch.setattr(atomic, "atomic_write_json", read_only)
    served = verified_promotion(ArtifactStore.at(copy))
    assert served.adapter_dir == copy / "adapters" / "trained"


@pytest.mark.parametrize("dropped", ["adapter_files", "base_model", "gate"])
def test_a_promotion_pointer_without_what_the_evaluation_proved_is_refused(promoted: ArtifactStore, capsys, dropped):
    """A hand-written current.json ({"fingerprint", "path"}) served an adapter no gate had seen; one without its
    base_model block let an edited base config through."""
    pointer = promoted.adapters / "current.json"
    record = json.loads(pointer.read_text())
    del record[dropped]
    pointer.write_text(json.dumps(record))
    code, err = _ask(promoted, capsys)
    assert code == 2 and "is not a promotion an evaluation recorded" in err and dropped in err


def test_a_promoted_adapter_trained_again_in_place_is_evaluated_again(promoted: ArtifactStore, world):
    """Its folder was damaged and the same fingerprint retrained: intact, but not the bytes the gate passed, and
    no input of `evaluation` changed. The raw-sources sensor asks for one evaluation per new content."""
    import dagster as dg

    from medimind_assets.sensors import retrained_promotion

    record = promoted.read_promoted()
    promoted.write_latest({"fingerprint": record["fingerprint"], "path": record["path"]})
    assert retrained_promotion(promoted) is None  # what was evaluated is what is there
    adapter = promoted.adapters / "trained"
    shutil.rmtree(adapter)
    shutil.copytree(world.random_adapter, adapter)
    request = retrained_promotion(promoted)
    assert request is not None and request.asset_selection == [dg.AssetKey("evaluation")]
    assert retrained_promotion(promoted).run_key == request.run_key  # asked once for this content
    promoted.write_latest({"fingerprint": "newer", "path": record["path"]})
    assert retrained_promotion(promoted) is None  # a newer adapter's evaluation comes anyway
    promoted.write_latest({"fingerprint": record["fingerprint"], "path": record["path"]})
    (adapter / "adapter_model.safetensors").write_bytes(b"broken")
    assert retrained_promotion(promoted) is None  # damaged: the status names it; nothing to evaluate

"""Real short trainings of tiny-phi, in this process (the Pipes path is in test_pipes.py)."""

import json
import math
from pathlib import Path

import pytest
import torch

from medimind_assets.data.rows import DatasetError
from medimind_assets.digests import sha256_file
from medimind_assets.evaluation.generation import DEFAULT_REPETITION_PENALTY
from medimind_assets.store import TRAINING_SUMMARY
from medimind_assets.training.hyperparameters import TrainingHyperparameters
from medimind_assets.training.lora import TargetModuleError
from medimind_assets.training.reporting import pipes_metadata
from medimind_assets.training.request import RequestError, TrainingRequest, compute_fingerprint
from medimind_assets.training.runner import TrainingError, run_training

from .conftest import QUICK, ListReporter, make_request, make_rows, write_dataset


def _load_adapter(manifest: dict, adapter_dir: Path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(manifest["path"])
    return PeftModel.from_pretrained(base, str(adapter_dir))


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


def test_short_training_publishes_a_loadable_adapter_with_its_metadata(settings, tiny_phi):
    reporter = ListReporter()
    request = make_request(settings, tiny_phi)
    outcome = run_training(request, reporter)

    assert not outcome.reused
    adapter_dir = request.adapter_dir
    names = {p.name for p in adapter_dir.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", TRAINING_SUMMARY} <= names
    # PEFT writes them in a set's order: sorted, the same training gives the same config bytes in any process.
    targets = json.loads((adapter_dir / "adapter_config.json").read_text())["target_modules"]
    assert targets == sorted(targets) and len(targets) == 4
    card = (adapter_dir / "README.md").read_text()
    assert "[More Information Needed]" not in card and "PeftModel.from_pretrained" in card
    assert tiny_phi["name"] in card and request.data_version[:12] in card
    assert f"repetition_penalty={DEFAULT_REPETITION_PENALTY}" in card  # decoded as the evaluation decodes
    model = _load_adapter(tiny_phi, adapter_dir)
    assert any("lora_A" in name for name, _ in model.named_parameters())

    summary = json.loads((adapter_dir / TRAINING_SUMMARY).read_text())
    metrics = summary["metrics"]
    assert metrics["global_step"] == 6 and metrics["max_steps"] == 6
    assert math.isfinite(metrics["final_train_loss"]) and math.isfinite(metrics["final_validation_loss"])
    assert len(summary["loss_curve"]["train"]) == 6
    assert [step for step, _ in summary["loss_curve"]["validation"]] == [3, 6]
    assert 0 < metrics["tokens_trained"] <= 6 * 4 * 128
    assert metrics["tokens_per_second"] > 0 and metrics["peak_memory_bytes"] > 0
    assert metrics["trainable_parameters"] == 2 * 8 * 64 * 4 * 2  # r=8, A and B, 4 modules of 64x64, 2 layers
    assert summary["prompt_template"] == request.hyperparameters.prompt_template  # what evaluation reads
    assert summary["runtime"]["quantization"] == "none" and summary["runtime"]["dtype"] == "float32"
    assert summary["runtime"]["trainer"] == "trl SFTTrainer" and summary["runtime"]["trl"]
    assert summary["runtime"]["loss"] == "labelled positions"
    assert summary["runtime"]["batching"] == (
        "4 examples per optimizer step and process, in 1 forward pass(es) of 4, length-grouped, padded to the "
        "longest of each pass"
    )
    assert any(line.startswith("loss checked: on labelled positions only") for line in reporter.lines)
    assert summary["base_model"]["content_hash"] == tiny_phi["content_hash"]
    assert summary["dataset"]["data_version"] == request.data_version

    latest = settings.store.read_latest()
    assert latest["fingerprint"] == request.fingerprint and latest["path"] == str(adapter_dir)
    assert latest["base_model"] == {k: tiny_phi[k] for k in ("name", "revision", "content_hash")}
    assert latest["dataset_version"] == request.data_version and latest["created_at"]

    assert any(line.startswith("step 6/6 epoch") and "tokens/s ETA" in line for line in reporter.lines)
    assert any("eval loss" in line for line in reporter.lines)

    metadata = pipes_metadata(outcome.summary, reused=False)
    assert metadata["loss_curve"]["type"] == "table"
    assert len(metadata["loss_curve"]["raw_value"]["records"]) == 6
    assert metadata["loss_plot"]["raw_value"].startswith("![loss curve](data:image/png;base64,iVBOR")
    for key in ("final_train_loss", "final_validation_loss", "tokens_trained", "quantization_reason"):
        assert key in metadata
    # Losses shown to 4 significant digits, counts exact; the summary on disk keeps every digit.
    final = outcome.summary["metrics"]["final_train_loss"]
    assert metadata["final_train_loss"]["raw_value"] == float(f"{final:.4g}") != final
    assert metadata["tokens_trained"]["raw_value"] == outcome.summary["metrics"]["tokens_trained"]

    # Same inputs again: the finished adapter is reused, nothing is trained.
    again = ListReporter()
    reused = run_training(make_request(settings, tiny_phi), again)
    assert reused.reused and reused.summary == summary
    assert any("reusing" in line for line in again.lines)
    assert pipes_metadata(reused.summary, reused=True)["reused"]["raw_value"] is True


def test_a_failed_retrain_leaves_the_previous_adapter_untouched(settings, tiny_phi, monkeypatch):
    from peft import PeftModel

    request = make_request(settings, tiny_phi, max_steps=2)
    run_training(request, ListReporter())
    before = _files(request.adapter_dir)
    latest_before = (settings.store.adapters / "latest.json").read_bytes()

    def broken_save(self, *args, **kwargs):
        (Path(args[0]) / "adapter_model.safetensors").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(PeftModel, "save_pretrained", broken_save)
    with pytest.raises(OSError, match="disk full"):
        run_training(make_request(settings, tiny_phi, max_steps=2, force=True), ListReporter())

    assert _files(request.adapter_dir) == before
    assert (settings.store.adapters / "latest.json").read_bytes() == latest_before
    assert sorted(p.name for p in settings.store.adapters.iterdir()) == [request.fingerprint, "latest.json"]


def test_cuda_out_of_memory_becomes_advice_and_writes_no_adapter(settings, tiny_phi, monkeypatch):
    from trl import SFTTrainer

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(SFTTrainer, "training_step", out_of_memory)
    request = make_request(settings, tiny_phi)
    with pytest.raises(TrainingError) as error:
        run_training(request, ListReporter())
    message = str(error.value)
    for remedy in ("smaller batch_size", "smaller max_length", "quantization='4bit'", "gradient_checkpointing=True"):
        assert remedy in message
    assert not request.adapter_dir.exists()
    assert not (settings.store.adapters / "latest.json").exists()


def test_a_target_module_the_model_lacks_is_named_with_the_available_ones(settings, tiny_phi):
    request = make_request(settings, tiny_phi, target_modules=["q_proj", "o_proj"])
    with pytest.raises(TargetModuleError) as error:
        run_training(request, ListReporter())
    assert "no linear module named 'o_proj'" in str(error.value)
    assert "dense, fc1, fc2, k_proj, q_proj, v_proj" in str(error.value)
    assert not request.checkpoint_dir.exists()


def test_max_length_beyond_the_model_context_is_refused_before_any_model_loads(settings, tiny_phi):
    for name in ("max_length", "preference_max_length"):
        with pytest.raises(RequestError, match=f"{name}=2048 exceeds the context of base model 'tiny-phi' \\(1024"):
            make_request(settings, tiny_phi, **{name: 2048})


def test_a_context_the_request_could_not_read_is_still_checked_where_the_model_loads(settings, tiny_phi, monkeypatch):
    monkeypatch.setattr("medimind_assets.training.request.model_context", lambda model_dir: None)
    request = make_request(settings, tiny_phi, max_length=2048)
    with pytest.raises(TrainingError, match="max_length=2048 exceeds the context of base model 'tiny-phi' \\(1024"):
        run_training(request, ListReporter())
    assert not request.checkpoint_dir.exists()


def test_an_empty_train_split_fails_before_loading_the_model(settings, tiny_phi):
    rows = [r for r in make_rows() if r["split"] != "train"]
    path = write_dataset(settings.store.dataset, rows)
    hyperparameters = TrainingHyperparameters.from_dict(QUICK)
    version = sha256_file(path)
    # TrainingRequest.create (the asset) refuses this dataset; the script checks again on its own.
    request = TrainingRequest(
        dataset_path=str(path),
        data_version=version,
        row_counts={"train": 0, "validation": 8, "test": 4},
        base_model=tiny_phi,
        hyperparameters=hyperparameters,
        data_root=str(settings.store.root),
        fingerprint=compute_fingerprint(version, tiny_phi, hyperparameters),
    )
    reporter = ListReporter()
    with pytest.raises(DatasetError, match="the train split is empty"):
        run_training(request, reporter)
    assert reporter.lines == []  # not even the device plan: nothing was loaded


def test_4bit_nf4_training_with_gradient_checkpointing_runs_on_cpu(settings, tiny_phi):
    request = make_request(
        settings, tiny_phi, quantization="4bit", gradient_checkpointing=True, max_steps=2, eval_steps=2
    )
    outcome = run_training(request, ListReporter())
    assert outcome.summary["runtime"]["quantization"] == "4bit"
    assert outcome.summary["runtime"]["quantization_reason"] == "requested quantization='4bit'"
    assert all(math.isfinite(loss) for _, loss in outcome.summary["loss_curve"]["train"])
    _load_adapter(tiny_phi, request.adapter_dir)


def test_packed_training_checks_isolation_first(settings, tiny_phi):
    reporter = ListReporter()
    outcome = run_training(make_request(settings, tiny_phi, packing=True, max_steps=2), reporter)
    assert outcome.summary["runtime"]["batching"].endswith("packed into rows of 128 tokens")
    assert any(line.startswith("checked: examples in one row keep apart") for line in reporter.lines)
    assert math.isfinite(outcome.summary["metrics"]["final_train_loss"])


def test_padding_free_passes_are_checked_exact_first(settings, tiny_phi):
    reporter = ListReporter()
    outcome = run_training(make_request(settings, tiny_phi, padding_free=True, max_steps=2), reporter)
    assert outcome.summary["runtime"]["batching"].endswith("padding-free (each pass's examples in one row)")
    assert any(line.startswith("checked: examples in one row keep apart") for line in reporter.lines)
    assert math.isfinite(outcome.summary["metrics"]["final_train_loss"])


def test_a_model_failing_the_loss_check_trains_on_trls_loss(settings, tiny_phi, monkeypatch):
    from medimind_assets.training import loss

    def mismatch(*args, **kwargs):
        raise loss.LabelledLossMismatch("the labelled-position loss 1.0 differs from the model's full-logits loss 2.0")

    monkeypatch.setattr(loss, "check_labelled_loss", mismatch)
    reporter = ListReporter()
    outcome = run_training(make_request(settings, tiny_phi, max_steps=2), reporter)
    assert outcome.summary["runtime"]["loss"] == "trl's fused LM head"
    assert any(line.endswith("the loss is trl's fused LM head's") for line in reporter.lines)
    assert math.isfinite(outcome.summary["metrics"]["final_train_loss"])


def test_a_rerun_reads_the_tokenised_splits_from_the_cache(settings, tiny_phi):
    first = ListReporter()
    run_training(make_request(settings, tiny_phi, max_steps=2), first)
    assert not any("read from the cache" in line for line in first.lines)
    again = ListReporter()  # another fingerprint (learning rate), the same data, tokenizer and max_length
    run_training(make_request(settings, tiny_phi, max_steps=2, learning_rate=5e-4), again)
    assert sum("tokens read from the cache of dataset" in line for line in again.lines) == 2


@pytest.mark.slow
def test_a_compiled_model_trains_the_same_adapter(settings, tiny_phi):
    from safetensors.torch import load_file

    def trained(force: bool, **overrides) -> tuple[dict, dict]:
        request = make_request(settings, tiny_phi, force=force, lora_dropout=0.0, max_steps=3, **overrides)
        outcome = run_training(request, ListReporter())
        return outcome.summary, load_file(request.adapter_dir / "adapter_model.safetensors")

    eager, eager_weights = trained(force=False)
    # Same fingerprint (compiling changes how a step is computed, not what): force trains it again.
    compiled, compiled_weights = trained(force=True, torch_compile=True)

    assert compiled["fingerprint"] == eager["fingerprint"]
    assert compiled["runtime"]["torch_compile"] is True and eager["runtime"]["torch_compile"] is False
    assert [loss for _, loss in compiled["loss_curve"]["train"]] == pytest.approx(
        [loss for _, loss in eager["loss_curve"]["train"]], rel=1e-4
    )
    assert compiled_weights.keys() == eager_weights.keys()  # the saved adapter's names are unchanged
    for name, weight in eager_weights.items():
        torch.testing.assert_close(compiled_weights[name], weight, rtol=1e-3, atol=1e-5)


def test_a_compile_failure_says_to_train_without_it_and_publishes_nothing(settings, tiny_phi, monkeypatch):
    from torch._dynamo.exc import InternalTorchDynamoError

    def failing_compile(model, *args, **kwargs):  # as a compile that fails in the first forward pass
        def fail(*args, **kwargs):
            raise InternalTorchDynamoError("inductor: no C++ compiler found")

        monkeypatch.setattr(model, "forward", fail)
        return model

    monkeypatch.setattr(torch, "compile", failing_compile)
    request = make_request(settings, tiny_phi, torch_compile=True, max_steps=2)
    with pytest.raises(TrainingError, match=r"torch.compile failed .*no C\+\+ compiler found.*torch_compile=False"):
        run_training(request, ListReporter())
    assert not request.adapter_dir.exists()


def test_a_run_resumed_from_a_checkpoint_publishes_the_same_adapter_bit_for_bit(settings, tiny_phi):
    import shutil

    # dropout 0.1: random draws resume too. keep_checkpoints: as a kill would leave them.
    request = make_request(settings, tiny_phi, max_steps=6, save_steps=3, keep_checkpoints=True)
    run_training(request, ListReporter())
    uninterrupted = _files(request.adapter_dir)
    # As after a kill between the checkpoints of steps 3 and 6: no adapter, the last checkpoint lost.
    shutil.rmtree(request.adapter_dir)
    shutil.rmtree(request.checkpoint_dir / "checkpoint-6")
    reporter = ListReporter()
    resumed = run_training(make_request(settings, tiny_phi, max_steps=6, save_steps=3), reporter)
    assert resumed.summary["metrics"]["resumed_from_step"] == 3
    assert any("resuming from checkpoint-3" in line for line in reporter.lines)
    again = _files(request.adapter_dir)
    assert again["adapter_model.safetensors"] == uninterrupted["adapter_model.safetensors"]


def test_a_run_resumed_in_a_later_epoch_publishes_the_same_adapter(settings, tiny_phi):
    """30 rows in passes of 4: 8 steps an epoch. Resumed from step 10, in the second epoch, whose length-grouped
    order is drawn again in the resuming process."""
    import shutil

    run = {"max_steps": 15, "save_steps": 5, "eval_steps": 5}
    request = make_request(settings, tiny_phi, keep_checkpoints=True, **run)
    run_training(request, ListReporter())
    uninterrupted = _files(request.adapter_dir)
    shutil.rmtree(request.adapter_dir)
    shutil.rmtree(request.checkpoint_dir / "checkpoint-15")
    resumed = run_training(make_request(settings, tiny_phi, **run), ListReporter())
    assert resumed.summary["metrics"]["resumed_from_step"] == 10
    assert _files(request.adapter_dir)["adapter_model.safetensors"] == uninterrupted["adapter_model.safetensors"]


def test_how_often_the_validation_loss_is_computed_does_not_change_the_weights(settings, tiny_phi):
    """eval_steps is not in the fingerprint: it must not change what the fingerprint names."""
    often = make_request(settings, tiny_phi, eval_steps=1)
    run_training(often, ListReporter())
    weights = _files(often.adapter_dir)["adapter_model.safetensors"]
    rarely = make_request(settings, tiny_phi, eval_steps=100, force=True)
    assert rarely.fingerprint == often.fingerprint
    run_training(rarely, ListReporter())
    assert _files(often.adapter_dir)["adapter_model.safetensors"] == weights


def test_the_number_of_training_processes_is_part_of_the_fingerprint(settings, tiny_phi):
    from medimind_assets.training.runner import Distributed

    one = make_request(settings, tiny_phi)
    two = TrainingRequest.create(
        dataset_path=settings.store.dataset,
        base_model=tiny_phi,
        hyperparameters=one.hyperparameters,
        data_root=settings.store.root,
        world_size=2,
    )
    assert two.fingerprint != one.fingerprint and TrainingRequest.from_extras(two.to_extras()) == two
    with pytest.raises(TrainingError, match="planned for 1 training process"):
        run_training(one, ListReporter(), Distributed(world_size=2))


def test_an_adapter_no_step_changed_is_not_published(settings, tiny_phi):
    """One optimizer step under warmup runs at learning rate 0: the adapter would be the base model. `max_steps: 1`
    is refused before anything loads; a run that ends after one step otherwise (a tiny split) is refused after it."""
    import torch

    from medimind_assets.training.hyperparameters import HyperparameterError
    from medimind_assets.training.runner import check_trained

    with pytest.raises(HyperparameterError, match="max_steps 1 with warmup_ratio > 0: its one step runs at learning"):
        make_request(settings, tiny_phi, max_steps=1)
    untouched = torch.nn.Module()
    untouched.lora_B = torch.nn.Parameter(torch.zeros(2, 2))  # as LoRA starts: the base model's outputs
    with pytest.raises(TrainingError, match="unchanged after 1 optimizer step"):
        check_trained(untouched, 1)
    untouched.lora_B.data[0, 0] = 0.1
    check_trained(untouched, 1)


def test_checkpoints_are_removed_once_the_adapter_is_published_unless_kept(settings, tiny_phi):
    request = make_request(settings, tiny_phi, max_steps=2, save_steps=1)
    run_training(request, ListReporter())
    assert (request.adapter_dir / "adapter_model.safetensors").is_file()
    assert not request.checkpoint_dir.exists()  # optimizer state, of no use once the adapter exists

    kept = make_request(settings, tiny_phi, max_steps=2, save_steps=1, keep_checkpoints=True, force=True)
    assert kept.fingerprint == request.fingerprint  # keeping them changes nothing trained
    run_training(kept, ListReporter())
    assert {"checkpoint-1", "checkpoint-2"} <= {p.name for p in kept.checkpoint_dir.iterdir()}


def test_a_second_training_of_the_same_fingerprint_stops_while_the_first_holds_it(settings, tiny_phi):
    from medimind_assets.atomic import directory_lock

    request = make_request(settings, tiny_phi, max_steps=2, save_steps=1)
    request.checkpoint_dir.mkdir(parents=True)
    (request.checkpoint_dir / "checkpoint-1").mkdir()  # being written by the first: never cleaned by the second
    running = directory_lock(settings.store.checkpoints, request.fingerprint)  # as the running training holds it
    with running, pytest.raises(TrainingError, match="another training of fingerprint .* is running"):
        run_training(request, ListReporter())
    assert (request.checkpoint_dir / "checkpoint-1").is_dir() and not request.adapter_dir.exists()
    run_training(request, ListReporter())  # released: the next run trains
    assert (request.adapter_dir / "adapter_model.safetensors").is_file()


def test_force_refuses_to_rewrite_the_promoted_adapter(settings, tiny_phi):
    from medimind_assets.promotion import AdapterRef, promote

    request = make_request(settings, tiny_phi, max_steps=2)
    run_training(request, ListReporter())
    weights = (request.adapter_dir / "adapter_model.safetensors").read_bytes()
    promote(settings.store, AdapterRef(request.fingerprint, request.adapter_dir), {})
    forced = make_request(settings, tiny_phi, max_steps=2, force=True, save_steps=7)  # outside the fingerprint
    with pytest.raises(TrainingError, match="is the promoted one"):
        run_training(forced, ListReporter())
    assert (request.adapter_dir / "adapter_model.safetensors").read_bytes() == weights


def test_force_stops_before_publishing_over_an_adapter_promoted_while_it_trained(settings, tiny_phi):
    from medimind_assets.promotion import AdapterRef, promote

    request = make_request(settings, tiny_phi, max_steps=2)
    run_training(request, ListReporter())
    weights = (request.adapter_dir / "adapter_model.safetensors").read_bytes()

    class PromotedMeanwhile(ListReporter):  # an evaluation passes the gate on the old weights mid-training
        def info(self, message: str) -> None:
            super().info(message)
            if message.startswith("loss checked"):
                promote(settings.store, AdapterRef(request.fingerprint, request.adapter_dir), {})

    forced = make_request(settings, tiny_phi, max_steps=2, force=True, save_steps=7)
    with pytest.raises(TrainingError, match="is the promoted one"):
        run_training(forced, PromotedMeanwhile())
    assert (request.adapter_dir / "adapter_model.safetensors").read_bytes() == weights


def test_force_with_an_unreadable_promotion_pointer_is_refused(settings, tiny_phi):
    request = make_request(settings, tiny_phi, max_steps=2, force=True)
    settings.store.current_pointer.parent.mkdir(parents=True, exist_ok=True)
    settings.store.current_pointer.write_text("{not json")
    with pytest.raises(TrainingError, match="current.json.*must be known"):
        run_training(request, ListReporter())

"""One training run, from a TrainingRequest to a published adapter and its summary.

Order matters: everything that can be checked without training (hyperparameters, dataset, device,
quantization, target modules, packing) is checked before the first step, so a bad input fails in seconds.
A finished adapter with the same fingerprint is reused unless `force`; training resumes from the latest complete
checkpoint of the same fingerprint. The adapter is written to a temporary folder and renamed into
`adapters/<fingerprint>/`; a failure leaves any previous adapter exactly as it was.
"""

from __future__ import annotations

import errno
import json
import math
import os
import resource
import shutil
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medimind_assets.atomic import LockHeld, atomic_directory, atomic_write_json, describe_os_error, directory_lock
from medimind_assets.data.rows import DatasetError, read_dataset, select
from medimind_assets.data.validation import refuse_if_invalid
from medimind_assets.digests import file_digests
from medimind_assets.errors import MediMindError
from medimind_assets.integrity import ADAPTER_CONFIG, SIGNED_ADAPTER_FILES, IntegrityError, verify_adapter
from medimind_assets.store import TRAINING_SUMMARY, ArtifactStore, PointerError
from medimind_assets.training.model_card import model_card
from medimind_assets.training.reporting import Reporter, loss_curve
from medimind_assets.training.request import TrainingRequest

if TYPE_CHECKING:
    from medimind_assets.training.hyperparameters import TrainingHyperparameters
    from medimind_assets.training.runtime import RuntimePlan

ADAPTER_FILES = (*SIGNED_ADAPTER_FILES, TRAINING_SUMMARY)
CHECKED_EXAMPLES = 3


class TrainingError(MediMindError, RuntimeError):
    """Training could not finish; the message says why and what to change."""


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @classmethod
    def from_env(cls) -> Distributed:
        """Ranks as torchrun / `accelerate launch` set them (a plain `python -m` run is rank 0 of 1)."""
        return cls(
            rank=int(os.environ.get("RANK", "0")),
            local_rank=int(os.environ.get("LOCAL_RANK", "0")),
            world_size=int(os.environ.get("WORLD_SIZE", "1")),
        )

    @property
    def is_main(self) -> bool:
        return self.rank == 0


@dataclass(frozen=True)
class TrainingOutcome:
    summary: dict[str, Any]
    reused: bool


def finished_summary(adapter_dir: Path, reporter: Reporter) -> dict[str, Any] | None:
    """The summary of a complete, verified adapter folder, or None if there is none (or it fails verification:
    the reason is reported and the adapter is trained again)."""
    if not all((adapter_dir / name).is_file() for name in ADAPTER_FILES):
        return None
    try:
        summary = verify_adapter(adapter_dir)
    except IntegrityError as exc:
        reporter.info(f"the finished adapter failed verification ({exc}); training it again")
        return None
    return summary or None


def write_latest(store: ArtifactStore, adapter_dir: Path, summary: dict[str, Any]) -> None:
    """Point `adapters/latest.json` at the adapter (what evaluation reads), relative to the data folder."""
    base = summary["base_model"]
    store.write_latest(
        {
            "fingerprint": summary["fingerprint"],
            "path": str(adapter_dir),
            "dataset_version": summary["dataset"]["data_version"],
            "base_model": {key: base[key] for key in ("name", "revision", "content_hash")},
            "created_at": summary["created_at"],
        }
    )


def oom_message(hyperparameters: TrainingHyperparameters, plan: RuntimePlan) -> str:
    return (
        f"CUDA ran out of memory training with batch_size={hyperparameters.batch_size}, "
        f"max_length={hyperparameters.max_length}, quantization={plan.quantization!r}, "
        f"gradient_checkpointing={hyperparameters.gradient_checkpointing} on {plan.gpu_name or plan.device}. "
        "Remedies: a smaller batch_size (raise gradient_accumulation_steps to keep the effective batch), "
        "a smaller max_length, quantization='4bit', or gradient_checkpointing=True. "
        "No adapter was written; complete checkpoints are kept and the next run resumes from them."
    )


def write_failure_message(exc: BaseException, checkpoint_dir: Path) -> str | None:
    """Name a failed checkpoint write for what it is: torch reports a full disk as `basic_ios::clear` or
    `unexpected pos`, which says nothing to an operator."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
        return describe_os_error(exc, checkpoint_dir)
    text = str(exc)
    if isinstance(exc, RuntimeError) and any(s in text for s in ("iostream error", "unexpected pos", "file write")):
        try:
            free = shutil.disk_usage(checkpoint_dir if checkpoint_dir.exists() else checkpoint_dir.parent).free
        except OSError:
            free = -1
        cause = "most likely no space left on device" if 0 <= free < 2**30 else "the file system refused the write"
        return (
            f"writing a checkpoint under {checkpoint_dir} failed ({text.splitlines()[0]}); "
            f"{free / 2**20:,.0f} MiB free there: {cause}. Free space or point MEDIMIND_DATA_DIR elsewhere; the "
            "next run resumes from the last complete checkpoint."
        )
    return None


def peak_memory(device: str) -> tuple[int, str]:
    if device == "cuda":
        import torch

        return int(torch.cuda.max_memory_allocated()), "cuda_max_allocated"
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "cpu_max_rss"


def run_training(
    request: TrainingRequest, reporter: Reporter, distributed: Distributed | None = None
) -> TrainingOutcome:
    """Reuse the finished adapter of this fingerprint, or train and publish one; returns its summary.

    The main process holds the fingerprint's lock (and its SFT stage's) from resume to publish: a second training
    of the same inputs (a retry beside an orphan, two instances on one data folder) stops with a clear error
    instead of resuming from checkpoints still being written."""
    distributed = distributed or Distributed.from_env()
    request.hyperparameters.validate()
    request.verify()
    if distributed.world_size != request.world_size:
        raise TrainingError(
            f"fingerprint {request.fingerprint[:12]} was planned for {request.world_size} training process(es), this "
            f"launch runs {distributed.world_size}: the batches of every step, and so the weights, would not be the ones "
            "it names"
        )
    with ExitStack() as locks:
        if distributed.is_main:
            for name in sorted({request.fingerprint, request.sft_checkpoint_dir.name}):
                try:
                    locks.enter_context(directory_lock(request.store.checkpoints, name, wait=False))
                except LockHeld as exc:
                    stage = "" if name == request.fingerprint else f" (the SFT stage of {request.fingerprint[:12]})"
                    raise TrainingError(
                        f"another training of fingerprint {name[:12]}{stage} is running on this data folder ({exc}); "
                        "this run stops without touching its checkpoints. Materialize again once it has finished."
                    ) from None
        return _reuse_or_train(request, reporter, distributed)


def _reuse_or_train(request: TrainingRequest, reporter: Reporter, distributed: Distributed) -> TrainingOutcome:
    hp = request.hyperparameters
    if request.force:
        _refuse_to_rewrite_promoted(request)
    else:
        previous = finished_summary(request.adapter_dir, reporter)
        if previous is not None:
            if distributed.is_main:
                write_latest(request.store, request.adapter_dir, previous)
            reporter.info(f"adapter {request.fingerprint[:12]} already trained: reusing {request.adapter_dir}")
            return TrainingOutcome(summary=previous, reused=True)

    rows = read_dataset(Path(request.dataset_path))
    refuse_if_invalid(Path(request.dataset_path), rows)
    train_rows = select(rows, "train", hp.max_train_examples, hp.seed, hp.sources)
    if not train_rows:
        of = f" of sources {hp.sources}" if hp.sources else ""
        raise DatasetError(f"{request.dataset_path}: the train split{of} is empty; nothing to train on")
    if not select(rows, "validation", hp.max_eval_examples, hp.seed, hp.sources):
        reporter.info("the validation split is empty: no validation loss will be reported")
    outcome = _train(request, reporter, distributed)
    if distributed.is_main and not hp.keep_checkpoints:
        _remove_checkpoints(request, reporter)
    return outcome


def _refuse_to_rewrite_promoted(request: TrainingRequest) -> None:
    """`force` must not rewrite the promoted adapter's folder: what is served would no longer be what was
    evaluated (serving would refuse it, and nothing would re-evaluate: the inputs did not change)."""
    try:
        promoted = request.store.read_promoted()
    except PointerError as exc:
        raise TrainingError(f"force: {exc}; what is promoted must be known before an adapter is rewritten") from None
    if promoted and promoted.get("fingerprint") == request.fingerprint and request.adapter_dir.exists():
        raise TrainingError(
            f"force: adapter {request.fingerprint[:12]} is the promoted one ({request.store.current_pointer}); "
            "retraining it would replace the weights that were evaluated. Change a hyperparameter to train a new "
            "adapter, or promote another one first."
        )


def _remove_checkpoints(request: TrainingRequest, reporter: Reporter) -> None:
    """The published adapter holds what the checkpoints were for; they hold optimizer state (2x the adapter's
    size each). A run with a preference stage keeps its SFT checkpoints (`sft_checkpoint_dir`, the run's own
    without that stage): other preference settings resume from them."""
    if request.checkpoint_dir.is_dir():
        shutil.rmtree(request.checkpoint_dir, ignore_errors=True)
        reporter.info(f"removed the checkpoints in {request.checkpoint_dir} (keep_checkpoints: true keeps them)")


def _tokenized_splits(request: TrainingRequest, tokenizer, reporter: Reporter):
    """The train and validation splits as tokenised `datasets` (cached by the dataset's data version)."""
    from medimind_assets.training.data import load_rows, select_split, tokenize

    hp = request.hyperparameters
    rows = load_rows(Path(request.dataset_path), request.store.cache)
    splits = {}
    for split, limit in (("train", hp.max_train_examples), ("validation", hp.max_eval_examples)):
        chosen = select_split(rows, split, limit, hp.seed, hp.sources)
        key = dict(data_version=request.data_version, split=split, limit=limit, seed=hp.seed, sources=hp.sources)
        splits[split], cached = tokenize(
            chosen, tokenizer, hp.template, hp.max_length, hp.loss_on, request.store.cache, key
        )
        if cached:
            reporter.info(f"{split} split: tokens read from the cache of dataset {request.data_version[:12]}")
    return splits["train"], splits["validation"]


def _train(request: TrainingRequest, reporter: Reporter, distributed: Distributed) -> TrainingOutcome:
    from medimind_assets.quiet import before_peft

    before_peft()  # transformers' training utilities (set_seed, TrainerCallback, Trainer) import peft and bitsandbytes
    import torch

    from medimind_assets.llm.loading import load_tokenizer
    from medimind_assets.training import runtime
    from medimind_assets.training.checkpoints import resume_point
    from medimind_assets.training.trainer import build_trainer, describe_batching, train_or_reuse

    hp, manifest = request.hyperparameters, request.base_model
    hardware, shape = runtime.Hardware.detect(), runtime.model_shape(manifest)
    plan = runtime.plan_runtime(hp.requested_quantization, hardware, shape, hp.batch_size * hp.max_length)
    runtime.check_quantization_available(plan.quantization, plan.device)
    attn = runtime.attention_implementation(plan, hp.packing or hp.padding_free)
    reporter.info(
        f"device {plan.device} ({plan.gpu_name or 'cpu'}), {plan.dtype} ({plan.dtype_reason}), "
        f"quantization {plan.quantization} ({plan.quantization_reason}), attention {attn}, "
        f"{distributed.world_size} process(es); {describe_batching(hp)}"
    )
    tokenizer = load_tokenizer(Path(manifest["path"]))
    train, evaluation = _tokenized_splits(request, tokenizer, reporter)
    train_tokens, truncated = sum(train["length"]), sum(train["truncated"])
    reporter.info(
        f"{len(train)} train examples ({train_tokens:,} tokens, {truncated} cut at max_length={hp.max_length}), "
        f"{len(evaluation)} validation examples"
    )
    preference = None
    sample = [train[i] for i in range(min(CHECKED_EXAMPLES, len(train)))]  # what the checks before training run on
    try:
        model, peft_config = _prepare_model(request, plan, attn, distributed, reporter, sample, tokenizer.pad_token_id)
        resume = resume_point(request.sft_checkpoint_dir, request.force, distributed.is_main, reporter.info)
        trainer = build_trainer(
            model, hp, plan, train, evaluation, tokenizer, request.sft_checkpoint_dir, reporter, peft_config
        )
        _check_loss(trainer, sample, tokenizer.pad_token_id, plan, reporter)
        started = time.monotonic()
        # An SFT a preference stage starts from may have finished: used as it is.
        training_loss, resumed = train_or_reuse(trainer, resume, hp.max_steps, reporter)
        runtime_s = time.monotonic() - started
        curve = loss_curve(trainer.state.log_history)
        if len(evaluation) and not (curve["validation"] and curve["validation"][-1][0] == trainer.state.global_step):
            trainer.evaluate()
            curve = loss_curve(trainer.state.log_history)
        if hp.preference != "none":
            from medimind_assets.training.preference import train_preference

            before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
            preference = train_preference(trainer.model, tokenizer, request, plan, distributed, reporter)
            check_changed(trainer.model, before, "the preference stage")
            if len(evaluation):  # the published adapter's validation loss: after the preference stage
                preference["validation_loss"] = trainer.evaluate()["eval_loss"]
    except torch.OutOfMemoryError:
        raise TrainingError(oom_message(hp, plan)) from None
    except (OSError, RuntimeError) as exc:
        message = write_failure_message(exc, request.checkpoint_dir)
        if message is None and hp.torch_compile:
            message = compile_failure_message(exc)
        if message is None:
            raise
        raise TrainingError(message) from exc

    losses = [loss for _, loss in curve["train"]]
    validation = [point[1] for point in curve["validation"]]
    if preference is not None:
        losses += [loss for _, loss in preference["loss_curve"]["train"]]
        validation += [preference["validation_loss"]] if "validation_loss" in preference else []
    check_finite(trainer.model, losses, validation, hp.learning_rate)
    check_trained(trainer.model, trainer.state.global_step)
    state = trainer.state
    peak, peak_kind = peak_memory(plan.device)
    trainable, total = trainer.model.get_nb_trainable_parameters()
    summary = {
        "fingerprint": request.fingerprint,
        "adapter_path": str(request.adapter_dir),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "prompt_template": hp.prompt_template,
        "hyperparameters": asdict(hp),
        "dataset": {
            "path": request.dataset_path,
            "data_version": request.data_version,
            "row_counts": request.row_counts,
            "train_examples": len(train),
            "validation_examples": len(evaluation),
            "train_examples_truncated": truncated,
            "train_prompts_shortened": sum(train["prompt_cut"]),
        },
        "base_model": {key: manifest.get(key) for key in ("name", "path", "revision", "content_hash", "architecture")},
        "runtime": {
            **asdict(plan),
            "attn_implementation": attn,
            "trainer": "trl SFTTrainer" + (" + DPOTrainer" if preference else ""),
            "batching": describe_batching(hp),
            "loss": "labelled positions" if trainer.labelled_loss else "trl's fused LM head",
            "torch_compile": hp.torch_compile,
            "world_size": distributed.world_size,
            "torch": torch.__version__,
            "trl": version("trl"),
        },
        "metrics": {
            "final_train_loss": curve["train"][-1][1] if curve["train"] else None,
            "final_validation_loss": validation[-1] if validation else None,
            "tokens_trained": int(state.num_input_tokens_seen),
            "tokens_per_second": (state.num_input_tokens_seen - resumed.get("num_input_tokens_seen", 0)) / runtime_s,
            "train_runtime_s": round(runtime_s, 2),
            "peak_memory_bytes": peak,
            "peak_memory_kind": peak_kind,
            "trainable_parameters": int(trainable),
            "total_parameters": int(total),
            "global_step": state.global_step,
            "max_steps": state.max_steps,
            "epochs": round(float(state.epoch or 0), 4),
            "resumed_from_step": resumed.get("global_step"),
            "train_loss_mean": float(training_loss),
        },
        "loss_curve": curve,
    }
    if preference is not None:
        summary["preference"] = preference
        summary["metrics"]["sft_validation_loss"] = curve["validation"][-1][1] if curve["validation"] else None
    if distributed.is_main:
        if request.force:  # an evaluation may have promoted this fingerprint while it trained
            _refuse_to_rewrite_promoted(request)
        publish_adapter(trainer.model, tokenizer, summary, request.adapter_dir)
        write_latest(request.store, request.adapter_dir, summary)
        reporter.info(f"adapter written to {request.adapter_dir}")
    return TrainingOutcome(summary=summary, reused=False)


def check_finite(model, train_losses: list[float], validation: list[float], learning_rate: float) -> None:
    """Nothing non-finite is published: every trained weight and every logged loss must be finite."""
    import torch

    remedy = (
        f"training diverged; lower learning_rate (now {learning_rate:g}), and check the data. No adapter was written."
    )
    bad = [
        name
        for name, parameter in model.named_parameters()
        if parameter.requires_grad and not bool(torch.isfinite(parameter).all())
    ]
    if bad:
        raise TrainingError(f"{len(bad)} trained tensor(s) hold NaN or infinity (e.g. {bad[0]}): {remedy}")
    if not all(map(math.isfinite, train_losses)):
        raise TrainingError(f"non-finite train loss in {train_losses}: {remedy}")
    if validation and not math.isfinite(validation[-1]):
        raise TrainingError(f"the final validation loss is {validation[-1]}: {remedy}")


def check_trained(model, global_step: int) -> None:
    """Refuse an adapter no optimizer step changed: LoRA starts with every `lora_B` at zero (the base model's
    outputs), and under warmup the first step runs at learning rate 0, so a one-step run publishes the base."""
    b_weights = [p for name, p in model.named_parameters() if p.requires_grad and "lora_B" in name]
    if b_weights and not any(bool(p.detach().any()) for p in b_weights):
        raise TrainingError(
            f"the adapter is unchanged after {global_step} optimizer step(s) (every lora_B is still zero; with "
            "warmup_ratio > 0 the first step runs at learning rate 0): train for more steps (max_steps, num_epochs, "
            "fewer gradient_accumulation_steps) or set warmup_ratio: 0. No adapter was written."
        )


def check_changed(model, before: dict, stage: str) -> None:
    """Refuse a stage that moved no trainable weight (a DPO stage of one step, at learning rate 0 under warmup): it
    would publish the adapter before it under a new fingerprint, called tuned."""
    import torch

    now = {n: p.detach() for n, p in model.named_parameters() if n in before}
    if now and all(torch.equal(before[n], p) for n, p in now.items()):
        raise TrainingError(
            f"{stage} changed no weight of the adapter (too few steps: with warmup_ratio > 0 the first runs at "
            "learning rate 0): give it more pairs or epochs (preference_max_pairs, preference_epochs) or set "
            "warmup_ratio: 0. No adapter was written."
        )


def _prepare_model(
    request: TrainingRequest,
    plan: RuntimePlan,
    attn: str,
    distributed: Distributed,
    reporter: Reporter,
    sample: list[dict],
    pad_token_id: int,
) -> tuple[Any, Any]:
    """The base model on its training device and the LoRA config for it (target modules checked first); examples
    flattened into one row checked to stay apart, when batches flatten them."""
    from transformers import set_seed

    from medimind_assets.llm.loading import load_for_training
    from medimind_assets.training.lora import check_target_modules, lora_config
    from medimind_assets.training.packing import check_flattening

    hp, manifest = request.hyperparameters, request.base_model
    set_seed(hp.seed)
    model = load_for_training(
        Path(manifest["path"]), plan, attn, distributed.local_rank, gradient_checkpointing=hp.gradient_checkpointing
    )
    context = getattr(model.config, "max_position_embeddings", None)
    if context and hp.max_length > context:
        raise TrainingError(
            f"max_length={hp.max_length} exceeds the context of base model {manifest['name']!r} ({context} tokens)"
        )
    targets = hp.target_modules or manifest["target_modules"]
    check_target_modules(model, targets, manifest["name"])
    if (hp.packing or hp.padding_free) and len(sample) >= 2:
        if plan.device == "cuda" and plan.quantization == "none":
            model.to(f"cuda:{distributed.local_rank}")  # where the Trainer would put it; the check runs there
        check_flattening(model, sample, pad_token_id)
        reporter.info(f"checked: examples in one row keep apart (their loss equals their losses alone, {attn})")
    return model, lora_config(hp, targets)


def _check_loss(trainer, sample: list[dict], pad_token_id: int, plan: RuntimePlan, reporter: Reporter) -> None:
    """Our labelled-position loss, checked equal to the model's own before training; else trl's."""
    from medimind_assets.training import loss

    try:
        loss.check_labelled_loss(trainer.model, sample, pad_token_id, rel_tol=1e-4 if plan.dtype == "float32" else 1e-3)
        reporter.info("loss checked: on labelled positions only it equals the model's full-logits loss")
    except loss.LabelledLossMismatch as mismatch:
        trainer.labelled_loss = False
        reporter.info(f"{mismatch}: the loss is trl's fused LM head's")


def compile_failure_message(exc: BaseException) -> str | None:
    """For an error from torch.compile (Dynamo tracing or the Inductor backend), what to do about it."""
    from torch._dynamo.exc import TorchDynamoException

    if not isinstance(exc, TorchDynamoException):
        return None
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return (
        f"torch.compile failed on this model and machine ({type(exc).__name__}: {first_line}); train with "
        "torch_compile=False (the same adapter, computed eagerly). Complete checkpoints are kept and the next run "
        "resumes from them."
    )


def _sort_target_modules(config_path: Path) -> None:
    """PEFT writes `target_modules` in a set's order, which varies between processes: sorted, the same training
    gives the same bytes (and the same digests, so the promoted adapter needs no new evaluation)."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def publish_adapter(model, tokenizer, summary: dict[str, Any], adapter_dir: Path) -> None:
    """Adapter weights, tokenizer and summary (with the sha256 of the weight and config files, which every
    consumer verifies) in a temporary folder, renamed into place when complete."""
    with atomic_directory(adapter_dir) as tmp:
        model.save_pretrained(str(tmp))
        _sort_target_modules(tmp / ADAPTER_CONFIG)
        tokenizer.save_pretrained(str(tmp))
        (tmp / "README.md").write_text(model_card(summary), encoding="utf-8")  # replaces PEFT's empty card
        summary["files"] = file_digests(tmp, SIGNED_ADAPTER_FILES)
        atomic_write_json(tmp / TRAINING_SUMMARY, summary)
        verify_adapter(tmp)

"""LoRA training throughput of phi-2's shape on one CUDA GPU: MediMind's settings vs the seed's recipe, profiled.

    python benchmarks/gpu_train.py                        # phi-2 shape, random weights: every variant, a profile
    python benchmarks/gpu_train.py --variants trl-bf16    # one variant
    python benchmarks/gpu_train.py --full-job             # the real job: run_training on ../shared/data's dataset
    python benchmarks/gpu_train.py --full-job --evaluate  # ... then the evaluation of base vs adapter, timed
    python benchmarks/gpu_train.py --tiny                 # every variant's code path on CPU, tiny shapes
    python benchmarks/gpu_train.py --tiny --full-job      # the full-job path on CPU, tiny shapes, a few steps
    bash benchmarks/gpu_session.sh compare|full-job       # a GPU session's measurements, one call each

The model has phi-2's shape (hidden 2560, intermediate 10240, 32 layers of 32 heads, partial rotary 0.4, vocabulary
51,200: 2.78B parameters) with random weights: throughput does not depend on the values. Examples are random token
ids with the lengths of the real training examples when --raw has the raw data (else lognormal, mean --mean-tokens);
the first fifth of each is the (masked) prompt. Every variant trains --steps timed optimizer steps after
--warmup-steps untimed ones, at the seed's hyperparameters (batch 4 x accumulation 4, max_length 512).

Variants:
- trl-bf16: `medimind_assets.training` as the asset runs it: trl's SFTTrainer, bf16 LoRA, passes of batch_size
  length-grouped examples padded to their longest, our loss on labelled positions.
- trl-4bit: the same with 4-bit NF4 weights (QLoRA).
- trl-bf16-compile / trl-4bit-compile: the same with `torch_compile` (the Trainer's torch.compile of the model; the
  compile happens in the untimed steps).
- trl-bf16-fused-loss: trl's own loss (its fused LM head, a Triton kernel on GPUs) instead of ours: which of the two
  to keep on GPUs (ours is kept because on a CPU trl's has no kernel and measured 3x slower).
- trl-bf16-padding-free: padding-free passes (each pass's examples in one row; flash_attention_2 where installed).
- seed-4bit / seed-bf16: the seed's recipe (HF Trainer, every example padded to max_length, labels = input ids),
  in 4-bit NF4 (its default) and without quantization.

MFU counts 4N FLOPs per real (non-padding) token, N = the base model's parameters: forward 2N plus the backward
pass through the frozen weights 2N (LoRA computes no weight gradient for them; 6N would count one). The projected
job is 3 epochs of the current dataset's train split (or of the seed's 1,234 x 200 tokens) at the measured rate.
Variants that need bitsandbytes are skipped, with the reason, where it cannot run.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_throughput import _cuda  # noqa: E402 - a sibling script, importable once its folder is on the path

SEED_JOB = {"examples": 1234, "tokens": 200, "epochs": 3}
SYNC_STEPS = 2  # optimizer steps whose host-GPU waits are counted (profiled variants, after the profile)
TARGETS = ["q_proj", "k_proj", "v_proj", "dense"]
PHI2_SHAPE = {
    "vocab_size": 51200,
    "hidden_size": 2560,
    "intermediate_size": 10240,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "partial_rotary_factor": 0.4,
    "max_position_embeddings": 2048,
    "hidden_act": "gelu_new",
    "layer_norm_eps": 1e-5,
    "resid_pdrop": 0.1,
    "embd_pdrop": 0.0,
    "attention_dropout": 0.0,
    "tie_word_embeddings": False,
    "bos_token_id": 50256,
    "eos_token_id": 50256,
}
PHI2_TOKENIZER_SIZE = 50295  # phi-2's tokenizer; its embedding has 51,200 rows
TINY_SHAPE = {
    "hidden_size": 64,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
}
# Most telling first: a run cut short by the device's time limit still has the comparisons that matter.
VARIANTS = (
    "trl-bf16",
    "trl-bf16-compile",
    "seed-bf16",
    "seed-4bit",
    "trl-4bit",
    "trl-bf16-fused-loss",
    "trl-bf16-padding-free",
    "trl-4bit-compile",
)
# Kernel (GPU) or operator (CPU) names by what they do, first match wins; the rest is "other".
CATEGORIES = (
    ("loss", r"cross_entropy|log_softmax|logsoftmax|nll_loss|logsumexp|SoftMax|softmax_backward"),
    ("attention", r"flash|fmha|attention|sdpa|_efficient_attention|scaled_dot_product"),
    ("4-bit dequantize", r"dequant|4bit|nf4|bitsandbytes|kgemm"),
    ("optimizer", r"adam|multi_tensor|_foreach|fused_adam"),
    ("matmul", r"gemm|cutlass|nvjet|xmma|cublas|matmul|addmm|\bmm\b|aten::mm|bmm|linear|s16816|wgmma"),
    ("fused by torch.compile", r"triton_|CompiledFxGraph"),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps per variant")
    parser.add_argument("--warmup-steps", type=int, default=2, help="untimed optimizer steps first")
    parser.add_argument(
        "--profile", default="trl-bf16,trl-bf16-compile", help="variants to profile (comma-separated, or 'none')"
    )
    parser.add_argument("--profile-steps", type=int, default=2, help="optimizer steps profiled, after the timed ones")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--accumulation", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--mean-tokens", type=int, default=SEED_JOB["tokens"], help="mean length without --raw")
    parser.add_argument("--peak-flops", type=float, help="dense bf16 peak FLOP/s (default: H100/H200 SXM 989e12)")
    parser.add_argument("--raw", type=Path, default=PROJECT_ROOT.parent / "shared" / "data", help="raw data dir")
    parser.add_argument(
        "--lengths", type=Path, help="JSON of the dataset's example lengths: read if it exists, else written from --raw"
    )
    parser.add_argument(
        "--prepare-lengths", action="store_true", help="only write --lengths from --raw (on a CPU, before a GPU run)"
    )
    parser.add_argument("--full-job", action="store_true", help="run_training on the dataset built from --raw")
    parser.add_argument("--max-train-examples", type=int, help="--full-job: train on a seeded subset")
    parser.add_argument("--max-steps", type=int, help="--full-job: stop after this many optimizer steps")
    parser.add_argument(
        "--evaluate", action="store_true", help="--full-job: then evaluate base vs adapter on the test split, timed"
    )
    parser.add_argument("--torch-compile", action="store_true", help="--full-job: train with torch_compile")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes on CPU: a quick check of the code paths")
    parser.add_argument("--workdir", type=Path, help="where the random model is saved (default: a temp dir)")
    args = parser.parse_args(argv)
    args.variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    args.profile = [] if args.profile == "none" else args.profile.split(",")
    if args.warmup_steps < 1 or args.steps < 1:
        parser.error("--warmup-steps and --steps must be at least 1 (the first steps are not timed)")
    if args.tiny:
        args.max_length = min(args.max_length, 128)
        args.mean_tokens = min(args.mean_tokens, 40)
        args.steps = min(args.steps, 1)
        args.warmup_steps = min(args.warmup_steps, 1)
        args.profile_steps = min(args.profile_steps, 1)
        if args.full_job:
            args.max_train_examples = args.max_train_examples or 64
            args.max_steps = args.max_steps or 3
    return args


# ---- the model and the examples -----------------------------------------------------------------------------


def model_config(tiny: bool, vocab_size: int | None = None):
    from transformers import PhiConfig

    shape = {**PHI2_SHAPE, **(TINY_SHAPE if tiny else {})}
    if vocab_size is not None:
        shape["vocab_size"] = vocab_size
    if tiny:
        shape.update(vocab_size=vocab_size or 2048, bos_token_id=0, eos_token_id=0)
    return PhiConfig(pad_token_id=shape["eos_token_id"], **shape)


def save_random_model(config, directory: Path, device: str, dtype) -> int:
    """Random weights initialised on `device` (fast on a GPU) and saved; returns the parameter count."""
    import torch
    from transformers import PhiForCausalLM

    torch.manual_seed(0)
    with torch.device(device):
        model = PhiForCausalLM(config).to(dtype)
    n_parameters = sum(p.numel() for p in model.parameters())
    model.save_pretrained(str(directory))
    del model
    _free()
    return n_parameters


@dataclass
class LengthSource:
    """Example lengths (prompt, completion) to sample from, and where they came from."""

    pairs: list[tuple[int, int]]
    description: str
    train_examples: int | None = None  # of the current dataset, for the projection
    train_tokens: int | None = None


def dataset_rows(raw: Path) -> list[dict]:
    from medimind_assets.data.build import build_dataset

    return build_dataset(raw).rows


def train_tokenizer_on(rows: list[dict], vocab_size: int):
    from medimind_assets.models.tiny_phi import train_tokenizer

    return train_tokenizer((r[k] for r in rows for k in ("instruction", "response")), vocab_size=vocab_size)


def dataset_lengths(raw: Path, max_length: int, tiny: bool, cache: Path | None = None) -> LengthSource | None:
    """(prompt, completion) lengths of the current dataset's train split, tokenized by a BPE tokenizer of phi-2's
    size trained on it (phi-2's own is not available offline), or None without the raw data. `cache`: read from
    there if it exists (a GPU host then skips the CPU work), else written there."""
    if cache is not None and cache.is_file():
        saved = json.loads(cache.read_text())
        print(f"example lengths of the current dataset from {cache} ({saved['description']})", flush=True)
        return LengthSource(
            [tuple(p) for p in saved["pairs"]], saved["description"], len(saved["pairs"]), saved["tokens"]
        )
    if not (raw / "mediqa2019_qa").is_dir():
        return None
    from medimind_assets.llm.template import PromptTemplate
    from medimind_assets.training.data import encode_rows

    started = time.perf_counter()
    rows = [r for r in dataset_rows(raw) if r["split"] == "train"]
    tokenizer = train_tokenizer_on(rows, 2048 if tiny else PHI2_TOKENIZER_SIZE)
    encoded = encode_rows(tokenizer, rows, PromptTemplate(), max_length)
    pairs = [(e.n_prompt, e.n_completion) for e in encoded]
    tokens = sum(len(e) for e in encoded)
    print(
        f"current dataset ({raw}): {len(rows):,} train examples, {tokens:,} tokens at max_length {max_length} "
        f"(mean {tokens / len(rows):.0f}), tokenizer trained on it; {time.perf_counter() - started:.0f}s",
        flush=True,
    )
    description = f"the current dataset's train lengths at max_length {max_length}"
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"description": description, "tokens": tokens, "pairs": pairs}))
    return LengthSource(pairs, description, len(rows), tokens)


def lognormal_lengths(n: int, mean_tokens: int) -> LengthSource:
    rng = random.Random(0)
    mu = math.log(mean_tokens) - 0.6**2 / 2
    lengths = [max(8, int(rng.lognormvariate(mu, 0.6))) for _ in range(n)]
    pairs = [(length // 5, length - length // 5) for length in lengths]
    return LengthSource(pairs, f"lognormal, mean {mean_tokens}")


def synthetic_examples(n: int, vocab: int, source: LengthSource, max_length: int, eos_id: int):
    """Random token ids with (prompt, completion) lengths drawn from `source`; the prompt is masked."""
    from medimind_assets.llm.encoding import encode_ids

    rng = random.Random(0)
    examples = []
    for _ in range(n):
        prompt, completion = rng.choice(source.pairs)
        ids = [rng.randrange(3, vocab) for _ in range(prompt + completion)]
        examples.append(
            encode_ids(ids[:prompt], ids[prompt:], eos_id, max_length=max_length, max_prompt_tokens=max_length // 2)
        )
    return examples


def seed_features(examples, max_length: int, pad_id: int) -> list[dict]:
    """The seed's batches of the same token ids: padded to max_length, labels = input ids, no EOS."""
    features = []
    for example in examples:
        ids = example.input_ids[:max_length]
        if ids[-1] == pad_id:
            ids = ids[:-1]
        padded = ids + [pad_id] * (max_length - len(ids))
        mask = [1] * len(ids) + [0] * (max_length - len(ids))
        features.append({"input_ids": padded, "attention_mask": mask, "labels": list(padded)})
    return features


# ---- timing and profiling -----------------------------------------------------------------------------------


def _sync() -> None:
    import torch

    if _cuda():
        torch.cuda.synchronize()


class Measurement:
    """A callback's view of one run: timed steps (warmup, warmup + steps], then `profile_steps` profiled ones, then
    (profiled variants, on a GPU) `SYNC_STEPS` in which every wait of the host for the GPU is counted."""

    def __init__(self, warmup: int, steps: int, profile_steps: int) -> None:
        self.warmup, self.steps, self.profile_steps = warmup, steps, profile_steps
        self.sync_steps = SYNC_STEPS if profile_steps and _cuda() else 0
        self.start = self.end = 0.0
        self.tokens_start = self.tokens_end = 0
        self.profiler = None
        self.profile_started = 0.0
        self.profiled: tuple | None = None  # (profiler, wall seconds) once done
        self.sync_counter: SyncCounter | None = None
        self.syncs: str | None = None  # what the sync counter found

    @property
    def total_steps(self) -> int:
        return self.warmup + self.steps + self.profile_steps + self.sync_steps

    @property
    def tokens_per_second(self) -> float:
        return (self.tokens_end - self.tokens_start) / (self.end - self.start)

    def callback(self):
        from transformers import TrainerCallback

        measurement = self

        class _Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == measurement.warmup:
                    _sync()
                    measurement.start, measurement.tokens_start = time.perf_counter(), state.num_input_tokens_seen
                elif state.global_step == measurement.warmup + measurement.steps:
                    _sync()
                    measurement.end, measurement.tokens_end = time.perf_counter(), state.num_input_tokens_seen
                    if measurement.profile_steps:
                        measurement.start_profile()
                elif state.global_step == measurement.warmup + measurement.steps + measurement.profile_steps:
                    measurement.stop_profile()
                    if measurement.sync_steps:
                        measurement.sync_counter = SyncCounter.start()
                elif state.global_step == measurement.total_steps and measurement.sync_counter:
                    measurement.syncs = measurement.sync_counter.stop(measurement.sync_steps)
                    measurement.sync_counter = None

            def on_train_end(self, args, state, control, **kwargs):
                measurement.stop_profile()

        return _Callback()

    def start_profile(self) -> None:
        import torch
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
        try:
            self.profiler = profile(activities=activities)
            self.profiler.__enter__()
        except Exception as error:  # a profiler that cannot start must not cost the measurements
            print(f"no profile: torch.profiler did not start ({type(error).__name__}: {error})", flush=True)
            self.profiler = None
        self.profile_started = time.perf_counter()

    def stop_profile(self) -> None:
        if self.profiler is None:
            return
        _sync()
        wall = time.perf_counter() - self.profile_started
        self.profiler.__exit__(None, None, None)
        self.profiled, self.profiler = (self.profiler, wall), None


class SyncCounter:
    """Counts the host's waits for the GPU (torch's sync debug mode warns at each), and where they come from."""

    def __init__(self, catcher, records: list) -> None:
        self.catcher, self.records = catcher, records

    @classmethod
    def start(cls) -> SyncCounter | None:
        import warnings

        import torch

        catcher = warnings.catch_warnings(record=True)
        records = catcher.__enter__()
        warnings.simplefilter("always")
        try:
            torch.cuda.set_sync_debug_mode("warn")
        except Exception as error:  # the measurements matter more than this count
            catcher.__exit__(None, None, None)
            print(f"no sync count: {type(error).__name__}: {error}", flush=True)
            return None
        return cls(catcher, records)

    def stop(self, steps: int) -> str:
        import torch

        torch.cuda.set_sync_debug_mode("default")
        self.catcher.__exit__(None, None, None)
        syncs = [r for r in self.records if "synchroniz" in str(r.message)]
        places = Counter(f"{Path(r.filename).name}:{r.lineno}" for r in syncs).most_common(6)
        where = "; from " + ", ".join(f"{place} ({count})" for place, count in places) if places else ""
        return f"{len(syncs) / steps:.1f} host waits for the GPU per optimizer step{where}"


def profile_summary(profiler, wall: float, top: int = 8) -> list[str]:
    """Top kernels (GPU) or operators (CPU) by self time, and the share of time per category and idle."""
    import torch

    cuda = torch.cuda.is_available()
    events = profiler.key_averages()

    def self_time(event) -> float:  # microseconds
        if cuda:
            return float(getattr(event, "self_device_time_total", 0) or getattr(event, "self_cuda_time_total", 0))
        return float(event.self_cpu_time_total)

    timed = sorted(((self_time(e), e.key) for e in events if self_time(e) > 0), reverse=True)
    busy = sum(t for t, _ in timed)
    shares: dict[str, float] = {}
    for t, name in timed:
        category = next((c for c, pattern in CATEGORIES if re.search(pattern, name, re.IGNORECASE)), "other")
        shares[category] = shares.get(category, 0.0) + t
    window = wall * 1e6
    unit = "GPU kernels" if cuda else "CPU operators (self time; a CPU has no idle share to report)"
    lines = [f"profile: {wall:.2f}s wall over the profiled steps; {unit}"]
    basis = window if cuda else busy
    for category in [name for name, _ in CATEGORIES] + ["other"]:
        if category in shares:
            lines.append(f"  {category:<22} {shares[category] / basis:6.1%}")
    if cuda:
        lines.append(f"  {'idle (GPU waits)':<22} {max(0.0, window - busy) / window:6.1%}")
    lines.append("  top:")
    for t, name in timed[:top]:
        lines.append(f"    {t / basis:6.1%}  {t / 1e3:9.1f} ms  {name[:100]}")
    return lines


def _free() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _reset_peak() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _peak_gib() -> float:
    import resource

    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # CPU (--tiny): the process's peak so far


def bitsandbytes_problem() -> str | None:
    """Why 4-bit cannot run here, or None."""
    import torch

    from medimind_assets.training.runtime import QuantizationUnavailableError, check_quantization_available

    try:
        check_quantization_available("4bit", "cuda" if torch.cuda.is_available() else "cpu")
    except QuantizationUnavailableError as error:
        return str(error)
    return None


# ---- the variants -------------------------------------------------------------------------------------------


def placeholder_tokenizer(pad_id: int):
    """The trainer's `processing_class` for token ids that need no tokenizer: only its EOS/pad token is used."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<|endoftext|>": pad_id, "<unk>": pad_id + 1}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>", pad_token="<|endoftext|>")


def run_trl(variant: str, model_dir: Path, examples, pad_id: int, args, workdir: Path) -> dict:
    import datasets

    from medimind_assets.llm.loading import load_for_training
    from medimind_assets.training.hyperparameters import TrainingHyperparameters
    from medimind_assets.training.lora import lora_config
    from medimind_assets.training.reporting import SilentReporter
    from medimind_assets.training.runtime import Hardware, attention_implementation, plan_runtime
    from medimind_assets.training.trainer import build_trainer

    quantization = "4bit" if "4bit" in variant else "none"
    compiled = variant.endswith("-compile")
    padding_free = variant.endswith("-padding-free")
    labelled = not variant.endswith("-fused-loss")
    # Compiling takes the first steps (a recompile for dynamic shapes after the first).
    warmup = max(args.warmup_steps, 3) if compiled else args.warmup_steps
    measurement = Measurement(warmup, args.steps, args.profile_steps if variant in args.profile else 0)
    hp = TrainingHyperparameters(
        batch_size=args.batch_size,
        gradient_accumulation_steps=args.accumulation,
        max_length=args.max_length,
        max_steps=measurement.total_steps,
        warmup_ratio=0.0,
        save_steps=10**6,
        logging_steps=10**6,
        quantization=quantization,
        padding_free=padding_free,
        torch_compile=compiled,
    )
    plan = plan_runtime(hp.requested_quantization, Hardware.detect())
    _reset_peak()
    model = load_for_training(model_dir, plan, attention_implementation(plan, padding_free))
    rows = [{"input_ids": e.input_ids, "labels": e.labels, "length": len(e)} for e in examples]
    trainer = build_trainer(
        model,
        hp,
        plan,
        datasets.Dataset.from_list(rows),
        None,
        placeholder_tokenizer(pad_id),
        workdir / variant,
        SilentReporter(),
        lora_config(hp, TARGETS),
        [measurement.callback()],
        labelled_loss=labelled,
    )
    trainer.train()
    batching = "padding-free passes" if padding_free else f"padded passes of {hp.batch_size} examples"
    loss = "labelled-position loss (ours)" if labelled else "trl's fused LM head"
    result = {
        "variant": variant,
        "recipe": f"trl SFTTrainer, {plan.dtype}, quantization {plan.quantization}, {batching}, {loss}"
        + (", torch.compile" if compiled else ""),
        "real_tps": measurement.tokens_per_second,
        "padded_share": None,
        "peak_gib": _peak_gib(),
        "profile": measurement.profiled,
        "syncs": measurement.syncs,
    }
    del trainer, model
    _free()
    return result


def run_seed(variant: str, model_dir: Path, examples, pad_id: int, args, workdir: Path) -> dict:
    import torch
    from train_throughput import seed_model, seed_trainer

    quantization = "4bit" if variant == "seed-4bit" else "none"
    dtype = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    features = seed_features(examples, args.max_length, pad_id)
    measurement = Measurement(args.warmup_steps, args.steps, args.profile_steps if variant in args.profile else 0)
    _reset_peak()
    model = seed_model(model_dir, TARGETS, quantization, dtype)
    trainer = seed_trainer(
        model, features, workdir / variant, args.batch_size, args.accumulation, max_steps=measurement.total_steps
    )
    trainer.add_callback(measurement.callback())
    trainer.train()
    real = sum(sum(f["attention_mask"]) for f in features)
    result = {
        "variant": variant,
        "recipe": f"HF Trainer, {quantization}, every example padded to {args.max_length}",
        "real_tps": measurement.tokens_per_second,
        "padded_share": 1 - real / (len(features) * args.max_length),
        "peak_gib": _peak_gib(),
        "profile": measurement.profiled,
        "syncs": measurement.syncs,
    }
    del trainer, model
    _free()
    return result


def print_table(results: list[dict], n_parameters: int, args, device: str, source: LengthSource) -> None:
    flops_per_token = 4 * n_parameters
    if source.train_tokens:
        job_tokens, job = source.train_tokens * 3, f"3 epochs of {source.train_examples:,} examples"
    else:
        job_tokens = SEED_JOB["examples"] * args.mean_tokens * SEED_JOB["epochs"]
        job = f"3 epochs of {SEED_JOB['examples']:,} x {args.mean_tokens} tokens"
    print()
    print(
        f"{device}: {_count(n_parameters)}-parameter Phi ({n_parameters:,}), batch {args.batch_size} x accumulation "
        f"{args.accumulation}, max_length {args.max_length}, lengths: {source.description}; {args.steps} timed "
        f"steps after {args.warmup_steps}. MFU: 4N FLOPs per real token vs {args.peak_flops:.3g} FLOP/s."
    )
    print(
        f"{'variant':<22} {'real tok/s':>11} {'MFU':>6} {'peak GiB':>9} {'job (' + job + ')':>40}  settings"
    )  # fmt: skip
    for r in results:
        if "skipped" in r:
            print(f"{r['variant']:<22} skipped: {r['skipped']}")
            continue
        mfu = f"{r['real_tps'] * flops_per_token / args.peak_flops:.1%}" if device != "CPU" else "n/a"
        padded = f"; {r['padded_share']:.0%} of its tokens are padding" if r["padded_share"] else ""
        print(
            f"{r['variant']:<22} {r['real_tps']:>11,.0f} {mfu:>6} {r['peak_gib']:>9.1f} "
            f"{_duration(job_tokens / r['real_tps']):>40}  {r['recipe']}{padded}"
        )
    rates = {r["variant"]: r["real_tps"] for r in results if "skipped" not in r}
    pairs = [(trl, seed) for trl in ("trl-bf16", "trl-bf16-compile") for seed in ("seed-4bit", "seed-bf16")]
    pairs += [("trl-4bit", "seed-4bit"), ("trl-4bit-compile", "seed-4bit"), ("trl-bf16-compile", "trl-bf16")]
    pairs += [("trl-bf16-fused-loss", "trl-bf16"), ("trl-bf16-padding-free", "trl-bf16")]
    for ours, seed in pairs:
        if ours in rates and seed in rates:
            print(f"{ours} / {seed}: {rates[ours] / rates[seed]:.2f}x real tokens/s")
    for r in results:
        if r.get("profile"):
            print(f"\n{r['variant']} " + "\n".join(profile_summary(*r["profile"])))
        if r.get("syncs"):
            print(f"{r['variant']}: {r['syncs']}")


def _count(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.2f}M"


def _duration(seconds: float) -> str:
    return f"{seconds:,.0f} s" if seconds < 600 else f"{seconds / 60:,.1f} min"


# ---- the full job through run_training ----------------------------------------------------------------------


class PrintReporter:
    """Streams run_training's progress lines with the elapsed time."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def info(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:7.1f}s] {message}", flush=True)

    def report(self, metadata: dict, data_version: str) -> None:
        pass


def full_job(args, workdir: Path, device: str) -> int:
    """Build the dataset, a tokenizer trained on it and a phi-2-shaped random model, then run_training as the
    asset runs it (default hyperparameters); print the wall time."""
    import torch

    from medimind_assets.data.rows import write_dataset
    from medimind_assets.models import resolve_base_model
    from medimind_assets.training.hyperparameters import TrainingHyperparameters
    from medimind_assets.training.request import TrainingRequest
    from medimind_assets.training.runner import run_training

    if not (args.raw / "mediqa2019_qa").is_dir():
        print(f"--full-job needs the raw data: {args.raw} has no mediqa2019_qa/ (give --raw)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    rows = dataset_rows(args.raw)
    dataset_path = workdir / "dataset.jsonl"
    write_dataset(dataset_path, rows)
    tokenizer = train_tokenizer_on(rows, 2048 if args.tiny else PHI2_TOKENIZER_SIZE)
    config = model_config(args.tiny, vocab_size=len(tokenizer) if args.tiny else None)
    config.eos_token_id = config.bos_token_id = config.pad_token_id = tokenizer.eos_token_id
    cuda = torch.cuda.is_available()
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    n_parameters = save_random_model(config, workdir / "model", "cuda" if cuda else "cpu", dtype)
    tokenizer.save_pretrained(str(workdir / "model"))
    manifest = resolve_base_model(str(workdir / "model"), workdir / "models")
    print(
        f"{len(rows):,} rows, tokenizer of {len(tokenizer):,} tokens, {_count(n_parameters)}-parameter phi-2-shaped "
        f"model ready in {time.perf_counter() - started:.0f}s; training on {device}",
        flush=True,
    )
    overrides = {
        k: v
        for k, v in (
            ("max_train_examples", args.max_train_examples),
            ("max_steps", args.max_steps),
            ("torch_compile", args.torch_compile),
        )
        if v
    }
    if args.tiny:
        overrides["logging_steps"] = 1  # a few steps: stream each
    hyperparameters = TrainingHyperparameters(**overrides)
    request = TrainingRequest.create(
        dataset_path=dataset_path,
        base_model=manifest,
        hyperparameters=hyperparameters,
        data_root=workdir,
        force=True,
        raw_dir=args.raw,  # the default preference stage (`auto`) runs on the MEDIQA pairs, as in the asset
    )
    _reset_peak()
    started = time.perf_counter()
    outcome = run_training(request, PrintReporter())
    wall = time.perf_counter() - started
    metrics, runtime = outcome.summary["metrics"], outcome.summary["runtime"]
    mfu = f" ({4 * n_parameters * metrics['tokens_per_second'] / args.peak_flops:.1%} MFU at 4N)" if cuda else ""
    print(
        f"full job ({', '.join(f'{k}={v}' for k, v in overrides.items()) or 'default hyperparameters'}): "
        f"{wall:,.1f} s wall in run_training, {metrics['train_runtime_s']:,.1f} s in trainer.train(); "
        f"{metrics['global_step']} steps, {metrics['tokens_trained']:,} tokens at {metrics['tokens_per_second']:,.0f} "
        f"tokens/s{mfu}, "
        f"peak {metrics['peak_memory_bytes'] / 2**30:.1f} GiB ({metrics['peak_memory_kind']}); "
        f"final train loss {metrics['final_train_loss'] or float('nan'):.4f}; {runtime['batching']}; "
        f"loss on {runtime['loss']}"
    )
    if preference := outcome.summary.get("preference"):
        print(
            f"then the preference stage: DPO on {preference['pairs']['pairs']} pairs, {preference['global_step']} "
            f"steps in {preference['train_runtime_s']:,.1f} s"
        )
    if args.evaluate:
        evaluate(args, manifest, outcome.summary, dataset_path)
    return 0


def evaluate(args, manifest: dict, summary: dict, dataset_path: Path) -> None:
    """The evaluation asset's work on the trained adapter (test loss, MEDIQA test ranking, generation, safety),
    base and adapter, timed by phase. Random weights: the numbers mean nothing, the times do."""
    from medimind_assets.data import mediqa
    from medimind_assets.data.sources import MEDIQA
    from medimind_assets.evaluation.ranking import load_ranking_task
    from medimind_assets.evaluation.runner import evaluate_adapter
    from medimind_assets.evaluation.settings import EvaluationSettings
    from medimind_assets.llm.template import PromptTemplate

    if args.tiny:
        limits = dict(max_test_questions=8, ranking_max_questions=4, generation_sample=2, max_new_tokens=16)
        settings = EvaluationSettings(max_safety_questions=1, **limits)
    else:  # all of the test loss and ranking; generation and safety as the quick start bounds them
        settings = EvaluationSettings(generation_sample=16, max_safety_questions=8)
    raw_mediqa = args.raw / MEDIQA
    ranking = load_ranking_task(
        raw_mediqa / mediqa.TASK_DIR / mediqa.TEST_LABELLED_FILE,
        settings.ranking_max_questions,
        ground_truth=raw_mediqa / mediqa.TEST_GROUND_TRUTH,
    )
    started = time.perf_counter()
    report = evaluate_adapter(
        Path(manifest["path"]),
        Path(summary["adapter_path"]),
        dataset_path,
        PromptTemplate(summary["prompt_template"]),
        settings,
        ranking=ranking,
        log=lambda message: None,
    )
    wall = time.perf_counter() - started
    counts = report.counts
    print(
        f"evaluation (base and adapter): {wall:,.1f} s wall; {counts['loss_examples']:,} test references scored, "
        f"{counts['ranking_answers']:,} MEDIQA test candidates of {counts['ranking_questions']} questions ranked "
        f"({settings.ranker}), {counts['generation_questions']} answers generated of up to {settings.max_new_tokens} "
        f"tokens, {counts['emergency_questions']} emergency questions; seconds by phase: "
        + ", ".join(f"{name.removesuffix('_s')} {seconds:,.1f}" for name, seconds in report.timings.items())
    )


# ---- main ---------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.prepare_lengths:
        if args.lengths is None or dataset_lengths(args.raw, args.max_length, False, args.lengths) is None:
            print("--prepare-lengths needs --lengths FILE and the raw data in --raw", file=sys.stderr)
            return 2
        return 0
    import torch

    cuda = torch.cuda.is_available()
    if not cuda and not args.tiny:
        print(
            "gpu_train.py measures GPU training and needs CUDA, but torch.cuda.is_available() is False on this "
            f"machine (torch {torch.__version__}). Run it on a CUDA GPU, or add --tiny for a quick check of its "
            "code paths on CPU.",
            file=sys.stderr,
        )
        return 2
    if args.tiny:
        torch.set_num_threads(1)  # tiny shapes gain nothing from threads, and lose much on a busy machine
    device = torch.cuda.get_device_name(0) if cuda else "CPU"
    args.peak_flops = args.peak_flops or 989e12
    workdir = Path(tempfile.mkdtemp(prefix="medimind-gpu-bench-", dir=args.workdir))
    try:
        if args.full_job:
            return full_job(args, workdir, device)
        return compare(args, workdir, device, cuda)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def compare(args, workdir: Path, device: str, cuda: bool) -> int:
    import torch

    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    config = model_config(args.tiny)
    started = time.perf_counter()
    n_parameters = save_random_model(config, workdir / "model", "cuda" if cuda else "cpu", dtype)
    print(
        f"random {_count(n_parameters)}-parameter ({n_parameters:,}) Phi of "
        f"{'tiny' if args.tiny else 'phi-2'}'s shape saved in {time.perf_counter() - started:.0f}s",
        flush=True,
    )
    pad_id = config.eos_token_id
    n_examples = (args.warmup_steps + args.steps + args.profile_steps) * args.batch_size * args.accumulation
    real = None if args.tiny else dataset_lengths(args.raw, args.max_length, args.tiny, args.lengths)
    source = real or lognormal_lengths(4096, args.mean_tokens)
    examples = synthetic_examples(n_examples, config.vocab_size, source, args.max_length, pad_id)
    no_4bit = bitsandbytes_problem()
    results = []
    for variant in args.variants:
        if "4bit" in variant and no_4bit:
            results.append({"variant": variant, "skipped": no_4bit})
            continue
        started = time.perf_counter()
        if variant.startswith("trl"):
            result = run_trl(variant, workdir / "model", examples, pad_id, args, workdir)
        else:
            result = run_seed(variant, workdir / "model", examples, pad_id, args, workdir)
        print(
            f"{variant}: {result['real_tps']:,.0f} real tokens/s, peak {result['peak_gib']:.1f} GiB "
            f"({time.perf_counter() - started:.0f}s)",
            flush=True,
        )
        results.append(result)
    print_table(results, n_parameters, args, device, source)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""LoRA training throughput of a phi-2-sized model on one CUDA GPU: MediMind's settings vs the seed's recipe.

    python benchmarks/gpu_train.py                       # phi-2 size, random weights; peak = H100 dense bf16
    python benchmarks/gpu_train.py --peak-flops 1979e12  # another GPU's peak
    python benchmarks/gpu_train.py --tiny                # smoke test of every code path, on CPU too

The model is `PhiConfig()` (phi-2's shape) with random weights: throughput does not depend on the values.
Examples are random token ids with lengths like the seed's job (lognormal, mean --mean-tokens); the first
fifth of each is the prompt. Both recipes train --steps optimizer steps after --warmup-steps untimed ones.

- ours: the runtime plan `lora_adapter` would pick (bf16 LoRA on a GPU that fits the model), length-grouped
  dynamic padding, prompt masked; `medimind_assets.training`'s own Trainer setup.
- seed: 4-bit NF4 QLoRA (its default), every example padded to --max-length, labels = input ids.

MFU counts 4N FLOPs per real (non-padding) token: forward 2N plus the backward pass through the frozen
weights 2N (LoRA computes no weight gradients for them); N = the base model's parameters.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SEED_JOB = {"examples": 1234, "tokens": 200, "epochs": 3}
TARGETS = ["q_proj", "k_proj", "v_proj", "dense"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps per recipe")
    parser.add_argument("--warmup-steps", type=int, default=2, help="untimed optimizer steps first")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--accumulation", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--mean-tokens", type=int, default=SEED_JOB["tokens"], help="mean example length")
    parser.add_argument("--peak-flops", type=float, default=989e12, help="dense bf16 peak (H100 SXM: 989e12)")
    parser.add_argument("--seed-quantization", choices=["4bit", "none"], default="4bit")
    parser.add_argument("--tiny", action="store_true", help="tiny Phi config: a quick check of the code paths")
    parser.add_argument("--workdir", type=Path, help="where the random model is saved (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.max_length = min(args.max_length, 128)
        args.mean_tokens = min(args.mean_tokens, 40)
        args.steps = min(args.steps, 3)
    return args


def model_config(tiny: bool):
    from transformers import PhiConfig

    from medimind_assets.models.tiny_phi import TINY_PHI_CONFIG

    if tiny:
        return PhiConfig(vocab_size=2048, bos_token_id=0, eos_token_id=0, pad_token_id=0, **TINY_PHI_CONFIG)
    return PhiConfig()


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


def synthetic_examples(n: int, vocab: int, mean_tokens: int, max_length: int, eos_id: int):
    """Lognormal lengths (sigma 0.6) with the given mean; the first fifth of each is a masked prompt."""
    from medimind_assets.llm.encoding import encode_ids

    rng = random.Random(0)
    mu = math.log(mean_tokens) - 0.6**2 / 2
    examples = []
    for _ in range(n):
        length = max(8, int(rng.lognormvariate(mu, 0.6)))
        ids = [rng.randrange(3, vocab) for _ in range(length)]
        split = max(1, length // 5)
        examples.append(
            encode_ids(ids[:split], ids[split:], eos_id, max_length=max_length, max_prompt_tokens=max_length // 2)
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


class Stopwatch:
    """A TrainerCallback timing the steps after the warmup, with real tokens from the Trainer's count."""

    def __init__(self, warmup_steps: int) -> None:
        from transformers import TrainerCallback

        stopwatch = self

        class _Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == warmup_steps:
                    stopwatch.mark_start(state.num_input_tokens_seen)

            def on_train_end(self, args, state, control, **kwargs):
                stopwatch.mark_end(state.num_input_tokens_seen)

        self.callback = _Callback()
        self.start = self.end = 0.0
        self.tokens_start = self.tokens_end = 0

    @staticmethod
    def _sync() -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def mark_start(self, tokens: int) -> None:
        self._sync()
        self.start, self.tokens_start = time.perf_counter(), tokens

    def mark_end(self, tokens: int) -> None:
        self._sync()
        self.end, self.tokens_end = time.perf_counter(), tokens

    @property
    def tokens_per_second(self) -> float:
        return (self.tokens_end - self.tokens_start) / (self.end - self.start)


def _count(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.2f}M"


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


def run_ours(model_dir: Path, n_parameters: int, examples, pad_id: int, args, workdir: Path) -> dict:
    from medimind_assets.llm.loading import load_for_training
    from medimind_assets.training.hyperparameters import TrainingHyperparameters
    from medimind_assets.training.lora import apply_lora
    from medimind_assets.training.reporting import SilentReporter
    from medimind_assets.training.runtime import Hardware, attention_implementation, plan_runtime
    from medimind_assets.training.trainer import build_trainer

    hp = TrainingHyperparameters(
        batch_size=args.batch_size,
        gradient_accumulation_steps=args.accumulation,
        max_length=args.max_length,
        max_steps=args.warmup_steps + args.steps,
        warmup_ratio=0.0,
        save_steps=10**6,
        logging_steps=10**6,
    )
    plan = plan_runtime(hp.requested_quantization, n_parameters, Hardware.detect())
    _reset_peak()
    model = apply_lora(load_for_training(model_dir, plan, attention_implementation(plan, False)), hp, TARGETS)
    stopwatch = Stopwatch(args.warmup_steps)
    trainer = build_trainer(
        model, hp, plan, examples, [], pad_id, workdir / "ours", SilentReporter(), [stopwatch.callback]
    )
    trainer.train()
    result = {
        "recipe": f"ours ({plan.dtype}, quantization {plan.quantization}, length-grouped)",
        "real_tps": stopwatch.tokens_per_second,
        "padded_tps": stopwatch.tokens_per_second,  # dynamic padding: pads are few, not counted here
        "peak_gib": _peak_gib(),
    }
    del trainer, model
    _free()
    return result


def run_seed(model_dir: Path, examples, pad_id: int, args, workdir: Path) -> dict:
    import torch
    from train_throughput import seed_model, seed_trainer

    dtype = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    features = seed_features(examples, args.max_length, pad_id)
    _reset_peak()
    model = seed_model(model_dir, TARGETS, args.seed_quantization, dtype)
    stopwatch = Stopwatch(args.warmup_steps)
    trainer = seed_trainer(
        model, features, workdir / "seed", args.batch_size, args.accumulation, max_steps=args.warmup_steps + args.steps
    )
    trainer.add_callback(stopwatch.callback)
    trainer.train()
    real = stopwatch.tokens_per_second
    result = {
        "recipe": f"seed ({args.seed_quantization}, pad to {args.max_length})",
        "real_tps": real,
        "padded_tps": real * args.max_length / (sum(sum(f["attention_mask"]) for f in features) / len(features)),
        "peak_gib": _peak_gib(),
    }
    del trainer, model
    _free()
    return result


def print_table(results: list[dict], n_parameters: int, args, device: str) -> None:
    flops_per_token = 4 * n_parameters
    job_tokens = SEED_JOB["examples"] * args.mean_tokens * SEED_JOB["epochs"]
    print(
        f"{device}: {_count(n_parameters)}-parameter Phi, batch {args.batch_size} x accumulation "
        f"{args.accumulation}, mean {args.mean_tokens} tokens/example, {args.steps} timed steps; "
        f"MFU vs {args.peak_flops:.3g} FLOP/s at 4N FLOPs per real token"
    )
    print(
        f"{'recipe':<48} {'real tok/s':>11} {'all tok/s':>10} {'peak GiB':>9} {'MFU':>6} "
        f"{'seed job (' + str(SEED_JOB['examples']) + 'x' + str(args.mean_tokens) + 'x3)':>22}"
    )
    for r in results:
        mfu = r["real_tps"] * flops_per_token / args.peak_flops
        job_s = job_tokens / r["real_tps"]
        print(
            f"{r['recipe']:<48} {r['real_tps']:>11,.0f} {r['padded_tps']:>10,.0f} {r['peak_gib']:>9.1f} "
            f"{mfu:>6.1%} {job_s:>20,.0f} s"
        )
    ours, seed = results
    print(f"ours/seed: {ours['real_tps'] / seed['real_tps']:.2f}x real tokens/s")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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
    device = torch.cuda.get_device_name(0) if cuda else "CPU"
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    workdir = Path(tempfile.mkdtemp(prefix="medimind-gpu-bench-", dir=args.workdir))
    try:
        config = model_config(args.tiny)
        started = time.perf_counter()
        n_parameters = save_random_model(config, workdir / "model", "cuda" if cuda else "cpu", dtype)
        print(
            f"random {_count(n_parameters)}-parameter model saved in {time.perf_counter() - started:.0f}s", flush=True
        )
        pad_id = config.eos_token_id
        n_examples = (args.warmup_steps + args.steps) * args.batch_size * args.accumulation
        examples = synthetic_examples(n_examples, config.vocab_size, args.mean_tokens, args.max_length, pad_id)
        results = [
            run_ours(workdir / "model", n_parameters, examples, pad_id, args, workdir),
            run_seed(workdir / "model", examples, pad_id, args, workdir),
        ]
        print_table(results, n_parameters, args, device)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

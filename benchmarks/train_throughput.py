"""One epoch of the seed's recipe, our previous trainer and trl's SFTTrainer as MediMind configures it: same base
model, same rows, same optimizer settings, in one run.

    python benchmarks/train_throughput.py                                  # tiny-phi, generated rows
    python benchmarks/train_throughput.py --dataset data/dataset.jsonl     # the real dataset
    python benchmarks/train_throughput.py --base-model path/to/model_dir   # another local model

Recipes (each in a process of its own, interleaved over --repeats; the fastest epoch of each is kept):
- seed: HF Trainer, LoRA r=8/alpha=16/dropout 0.1, every example padded to max_length, labels = input ids (prompt
  and padding included in the loss), no EOS, pad = eos.
- previous: `medimind_assets.training` as it was at --previous (default: the last commit before trl, our own
  step trainer: length-grouped passes by a token budget, loss on labelled positions, prompt masked, EOS appended),
  imported from that commit's tree (`git archive`).
- trl: `medimind_assets.training` now, as the asset runs it: trl's SFTTrainer on the tokenised `datasets`, passes
  padded to their longest, length-grouped, our loss on labelled positions.
- trl-padding-free: the same with `padding_free=True` (each pass's examples in one row).
- trl-fused-loss: the same with trl's own loss (its fused LM head) instead of ours.
- `--compile` adds trl with `torch_compile` (use `--repeats 2` or more: the first compiled epoch includes the
  compile).

Real tokens are the non-padding ones. The validation loss is measured the same way for every model: mean loss per
response token (+ EOS) on the validation rows (`evaluation.likelihood.heldout_loss`, the definition evaluation uses).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# A worker of the `previous` recipe imports medimind_assets from that commit's tree.
TREE_ENV = "MEDIMIND_BENCH_TREE"
sys.path.insert(0, os.environ.get(TREE_ENV) or str(PROJECT_ROOT))
PREVIOUS = "b05de43"  # the last commit with our own step trainer
RECIPES = ("seed", "previous", "trl", "trl-padding-free")

SEED_TEMPLATE = "Human: {instruction}\nAssistant: {response}"
_WORD_TEXT = (
    "the a of and to in is it that with for as on be are by this or can your may from when if not should "
    "pain fever blood pressure heart diabetes insulin doctor treatment symptoms infection medicine dose "
    "kidney liver cancer therapy surgery diagnosis chronic acute patient children risk disease condition "
    "syndrome vitamin allergy asthma lung skin bone joint muscle nerve brain sleep weight diet exercise"
)
_WORDS = _WORD_TEXT.split()


def generated_rows(n_train: int, n_validation: int, seed: int = 0) -> list[dict]:
    """Question-answer rows with answer lengths like the real data (lognormal, median ~200 words)."""
    rng = random.Random(seed)

    def text(words: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + "."

    rows = []
    for split, count in (("train", n_train), ("validation", n_validation)):
        for i in range(count):
            answer_words = max(5, min(3000, int(rng.lognormvariate(math.log(200), 0.8))))
            rows.append(
                {
                    "id": f"generated:{split}:{i}",
                    "instruction": text(rng.randint(6, 40)) + "?",
                    "response": text(answer_words),
                    "split": split,
                }
            )
    return rows


def load_rows(dataset: Path | None, n_train: int, n_validation: int) -> list[dict]:
    from medimind_assets.data.rows import read_dataset as read_rows
    from medimind_assets.data.rows import select

    if dataset is None:
        return generated_rows(n_train, n_validation)
    rows = read_rows(dataset)
    return select(rows, "train", n_train, seed=0) + select(rows, "validation", n_validation, seed=0)


def base_model_dir(spec: str, texts: list[str], workdir: Path) -> Path:
    """tiny-phi (built on `texts` through the project's registry) or a local model directory."""
    if spec == "tiny-phi":
        from medimind_assets.models import resolve_base_model

        return Path(resolve_base_model("tiny-phi", workdir / "models", texts)["path"])
    path = Path(spec)
    if path.suffix == ".json":  # a base-model manifest (e.g. data/models/base_model.json)
        path = Path(json.loads(path.read_text())["path"])
    if not (path / "config.json").is_file():
        raise SystemExit(f"--base-model {spec}: not 'tiny-phi', a model directory or a manifest JSON")
    return path


def seed_features(tokenizer, rows: list[dict], max_length: int) -> list[dict]:
    """The seed's tokenization: prompt + response padded to max_length, labels = input ids, no EOS."""
    texts = [SEED_TEMPLATE.format(instruction=r["instruction"], response=r["response"]) for r in rows]
    encoded = tokenizer(texts, padding="max_length", truncation=True, max_length=max_length)
    return [
        {"input_ids": ids, "attention_mask": mask, "labels": list(ids)}
        for ids, mask in zip(encoded["input_ids"], encoded["attention_mask"], strict=True)
    ]


def seed_model(model_path: Path, target_modules: list[str], quantization: str, dtype):
    """The seed's model: optionally 4-bit NF4, LoRA r=8/alpha=16/dropout 0.1."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    kwargs: dict = {"dtype": dtype}
    if quantization == "4bit":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
        )
        kwargs["device_map"] = {"": 0} if _cuda() else {"": "cpu"}
    model = AutoModelForCausalLM.from_pretrained(str(model_path), **kwargs)
    if quantization == "4bit":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.1, target_modules=target_modules, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def seed_trainer(model, features: list[dict], output_dir: Path, batch_size: int, accumulation: int, **limits):
    """HF Trainer as the seed configured it (default collator over pre-padded features)."""
    import torch
    from transformers import PrinterCallback, Trainer, TrainingArguments, default_data_collator

    cuda = _cuda()
    args = TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=accumulation,
        learning_rate=2e-4,
        logging_steps=10,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        use_cpu=not cuda,
        include_num_input_tokens_seen="non_padding",
        seed=42,
        **limits,
    )
    trainer = Trainer(model=model, args=args, train_dataset=features, data_collator=default_data_collator)
    trainer.remove_callback(PrinterCallback)
    return trainer


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def hyperparameters(args, **overrides):
    from medimind_assets.training.hyperparameters import TrainingHyperparameters

    return TrainingHyperparameters(
        batch_size=args.batch_size,
        gradient_accumulation_steps=args.accumulation,
        max_length=args.max_length,
        quantization="none",
        num_epochs=1,
        save_steps=10**6,
        eval_steps=10**6,
        logging_steps=10**6,
        **overrides,
    )


def validation_loss(model, tokenizer, rows: list[dict], args) -> float:
    from medimind_assets.evaluation.likelihood import heldout_loss
    from medimind_assets.llm.template import PromptTemplate

    pairs = [(r["instruction"], r["response"]) for r in rows]
    return heldout_loss(
        model.eval(),
        tokenizer,
        pairs,
        PromptTemplate(SEED_TEMPLATE),
        max_response_tokens=args.max_length,
        max_prompt_tokens=args.max_length // 2,
        max_batch_size=args.batch_size,
    ).loss


def train_seed(model_dir: Path, tokenizer, targets, train_rows, validation_rows, args, workdir: Path) -> dict:
    import torch
    from transformers import set_seed

    set_seed(42)
    model = seed_model(model_dir, targets, args.seed_quantization, torch.float32)
    features = seed_features(tokenizer, train_rows, args.max_length)
    trainer = seed_trainer(model, features, workdir / "seed", args.batch_size, args.accumulation, num_train_epochs=1)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    real = sum(sum(f["attention_mask"]) for f in features)
    return {
        "real_tokens": real,
        "seconds": seconds,
        "val_loss": validation_loss(model, tokenizer, validation_rows, args),
    }


def train_previous(model_dir: Path, tokenizer, targets, train_rows, validation_rows, args, workdir: Path) -> dict:
    """The step trainer of the previous commit (its API: examples, apply_lora, build_trainer over them)."""
    from transformers import set_seed

    from medimind_assets.llm.loading import load_for_training
    from medimind_assets.llm.template import PromptTemplate
    from medimind_assets.training.examples import encode_rows
    from medimind_assets.training.lora import apply_lora
    from medimind_assets.training.reporting import SilentReporter
    from medimind_assets.training.runtime import Hardware, plan_runtime
    from medimind_assets.training.trainer import build_trainer

    set_seed(42)
    hp = hyperparameters(args)
    plan = plan_runtime("none", Hardware.detect())
    model = apply_lora(load_for_training(model_dir, plan, "sdpa"), hp, targets)
    train = encode_rows(tokenizer, train_rows, PromptTemplate(SEED_TEMPLATE), args.max_length)
    trainer = build_trainer(
        model, hp, plan, train.examples, [], tokenizer.pad_token_id, workdir / "previous", SilentReporter()
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    real = sum(len(e) for e in train.examples)
    return {
        "real_tokens": real,
        "seconds": seconds,
        "val_loss": validation_loss(model, tokenizer, validation_rows, args),
    }


def train_trl(
    model_dir, tokenizer, targets, train_rows, validation_rows, args, workdir: Path, labelled_loss=True, **overrides
) -> dict:
    import datasets
    from transformers import set_seed

    from medimind_assets.llm.loading import load_for_training
    from medimind_assets.llm.template import PromptTemplate
    from medimind_assets.training.data import tokenize
    from medimind_assets.training.lora import lora_config
    from medimind_assets.training.reporting import SilentReporter
    from medimind_assets.training.runtime import Hardware, attention_implementation, plan_runtime
    from medimind_assets.training.trainer import build_trainer

    set_seed(42)
    hp = hyperparameters(args, **overrides)
    plan = plan_runtime("none", Hardware.detect())
    rows = datasets.Dataset.from_list([{k: r[k] for k in ("instruction", "response")} for r in train_rows])
    train, _ = tokenize(rows, tokenizer, PromptTemplate(SEED_TEMPLATE), args.max_length, "response", workdir, {})
    attn = attention_implementation(plan, hp.padding_free or hp.packing)
    model = load_for_training(model_dir, plan, attn)
    trainer = build_trainer(
        model,
        hp,
        plan,
        train,
        None,
        tokenizer,
        workdir / "trl",
        SilentReporter(),
        lora_config(hp, targets),
        labelled_loss=labelled_loss,
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    real = sum(train["length"])
    return {
        "real_tokens": real,
        "seconds": seconds,
        "val_loss": validation_loss(trainer.model, tokenizer, validation_rows, args),
    }


def worker(args: argparse.Namespace) -> None:
    """One recipe, once; prints its result as JSON on the last line."""
    import torch
    from transformers import AutoConfig

    from medimind_assets.llm.loading import load_tokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    workdir = Path(args.worker_dir)
    rows = json.loads((workdir / "rows.json").read_text())
    train_rows = [r for r in rows if r["split"] == "train"]
    validation_rows = [r for r in rows if r["split"] == "validation"]
    model_dir = Path((workdir / "model_dir.txt").read_text())
    tokenizer = load_tokenizer(model_dir)
    model_type = AutoConfig.from_pretrained(str(model_dir)).model_type
    targets = ["q_proj", "k_proj", "v_proj", "dense" if model_type == "phi" else "o_proj"]
    run_dir = Path(tempfile.mkdtemp(prefix=f"{args.worker}-", dir=workdir))
    common = (model_dir, tokenizer, targets, train_rows, validation_rows, args, run_dir)
    if args.worker == "seed":
        result = train_seed(*common)
    elif args.worker == "previous":
        result = train_previous(*common)
    else:
        overrides = {"padding_free": args.worker == "trl-padding-free", "torch_compile": args.worker == "trl-compiled"}
        result = train_trl(*common, labelled_loss=args.worker != "trl-fused-loss", **overrides)
    shutil.rmtree(run_dir, ignore_errors=True)
    print(json.dumps({"recipe": args.worker, **result}))


def previous_tree(ref: str, workdir: Path) -> Path:
    """medimind_assets as it was at `ref`, extracted from git."""
    tree = workdir / f"tree-{ref}"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "archive", ref, "medimind_assets"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def run(args: argparse.Namespace) -> list[dict]:
    """Each recipe `args.repeats` times, interleaved, each in its own process; the fastest epoch of each is kept (CPU
    timings are noisy when other processes compete for the cores)."""
    workdir = Path(tempfile.mkdtemp(prefix="medimind-bench-"))
    try:
        rows = load_rows(args.dataset, args.train_examples, args.validation_examples)
        rows = [{k: r[k] for k in ("instruction", "response", "split")} for r in rows]
        (workdir / "rows.json").write_text(json.dumps(rows))
        texts = [r[k] for r in rows for k in ("instruction", "response")]
        (workdir / "model_dir.txt").write_text(str(base_model_dir(args.base_model, texts, workdir)))
        trees = {"previous": previous_tree(args.previous, workdir)} if "previous" in args.recipes else {}
        best: dict[str, dict] = {}
        for _ in range(args.repeats):
            for recipe in args.recipes:
                env = {**os.environ}
                if recipe in trees:
                    env[TREE_ENV] = str(trees[recipe])
                command = [sys.executable, __file__, "--worker", recipe, "--worker-dir", str(workdir)]
                command += [a for a in sys.argv[1:] if a not in ("--worker", "--worker-dir")]
                done = subprocess.run(command, env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"{recipe} failed:\n{done.stderr[-4000:]}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"{recipe}: {result['real_tokens'] / result['seconds']:,.0f} real tokens/s, "
                      f"val loss {result['val_loss']:.4f}", flush=True)  # fmt: skip
                if recipe not in best or result["seconds"] < best[recipe]["seconds"]:
                    best[recipe] = result
        return [best[recipe] for recipe in args.recipes]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def print_table(results: list[dict], args: argparse.Namespace) -> None:
    print(
        f"base model {args.base_model}, {args.train_examples} train / {args.validation_examples} validation rows "
        f"({args.dataset or 'generated'}), batch {args.batch_size} x accumulation {args.accumulation}, "
        f"max_length {args.max_length}, 1 epoch, best of {args.repeats}"
    )
    print(f"{'recipe':<14} {'real tokens':>12} {'epoch time s':>13} {'real tokens/s':>14} {'val loss':>9}")
    for r in results:
        rate = r["real_tokens"] / r["seconds"]
        print(f"{r['recipe']:<14} {r['real_tokens']:>12,} {r['seconds']:>13.1f} {rate:>14,.0f} {r['val_loss']:>9.4f}")
    by = {r["recipe"]: r for r in results}
    pairs = [("trl", "previous"), ("trl", "seed"), ("trl-padding-free", "trl"), ("trl-fused-loss", "trl")]
    for faster, slower in [*pairs, ("trl-compiled", "trl")]:
        if faster in by and slower in by:
            a, b = by[faster], by[slower]
            rate = (a["real_tokens"] / a["seconds"]) / (b["real_tokens"] / b["seconds"])
            print(
                f"ratio {faster} / {slower}: {rate:.2f}x real tokens/s, val loss {a['val_loss'] - b['val_loss']:+.4f}"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-model", default="tiny-phi", help="tiny-phi, a model directory or a manifest JSON")
    parser.add_argument("--dataset", type=Path, help="a dataset.jsonl (default: generated rows)")
    parser.add_argument("--train-examples", type=int, default=512)
    parser.add_argument("--validation-examples", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--accumulation", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--seed-quantization", choices=["none", "4bit"], default="none",
                        help="the seed's 4-bit default; 'none' (its --no_4bit) compares like with like on CPU")  # fmt: skip
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each recipe; the fastest is reported")
    known = (*RECIPES, "trl-fused-loss")
    parser.add_argument("--recipes", default=",".join(RECIPES), help=f"comma-separated, of {', '.join(known)}")
    parser.add_argument("--previous", default=PREVIOUS, help="the commit whose trainer is `previous`")
    parser.add_argument("--compile", action="store_true", help="also trl with torch_compile")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return
    args.recipes = [r for r in args.recipes.split(",") if r] + (["trl-compiled"] if args.compile else [])
    print_table(run(args), args)


if __name__ == "__main__":
    main()

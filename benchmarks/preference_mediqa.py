"""Does preference tuning help? Base vs SFT vs SFT + DPO on MEDIQA 2019 ranking, on the validation and test sets.

    python benchmarks/preference_mediqa.py train sft                                    # SFT (the quick start's)
    python benchmarks/preference_mediqa.py train dpo preference=dpo preference_beta=0.1 # SFT + DPO (SFT reused)
    python benchmarks/preference_mediqa.py evaluate validation base sft dpo             # choose on validation
    python benchmarks/preference_mediqa.py evaluate test base sft dpo                   # then report on test
    python benchmarks/preference_mediqa.py table                                        # the Markdown table

Everything lives in --workdir (default benchmarks/out/preference): the dataset built from --raw, the base model
(--model, default smollm2-135m), each named adapter (`adapters.json`) and the results (`results.json`). Training is
`run_training` as the `lora_adapter` asset runs it, with `benchmarks/smollm2_mediqa.yaml`'s settings (one epoch on
the MEDIQA train rows, max_length 384, batches of 4, lr 3e-4) plus the key=value overrides; runs that differ only in
the preference stage share one SFT (its checkpoints), so a DPO run trains only DPO after the first.

Measured per model and set: `official/accuracy`, `official/mrr` (the organisers' evaluator) of the `pmi` ranking
(candidates cut to 128 tokens, as the evaluation asset is configured there), and the held-out loss of the set's
reference answers (validation: the dataset's MEDIQA `validation` rows; test: every `test` row, as the gate
measures it). On validation every ranker is also scored (`rankers`).

With --dev (use its own --workdir), a fixed quarter of the MEDIQA training-file questions (`in_dev`: by a hash of
their IDs) is held out of training: their dataset rows move to the validation split, so neither SFT nor DPO (whose
pairs come from train-split questions only) sees them, and the held-out loss counts them. With the validation file
they make the set the models are chosen on four times larger (`benchmarks/learned_ranking.py --dev`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

SFT = {
    "sources": ["mediqa_qa"],
    "num_epochs": 1,
    "max_length": 384,
    "batch_size": 4,
    "gradient_accumulation_steps": 1,
    "learning_rate": 3e-4,
    "logging_steps": 10,
    "eval_steps": 40,
    "save_steps": 40,
    "keep_checkpoints": True,  # the DPO runs resume from the SFT run's last checkpoint
    "preference": "none",  # `train sft` is SFT alone; DPO runs name preference=dpo
}
RANKING_MAX_ANSWER_TOKENS = 128
MAX_RESPONSE_TOKENS = 256


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "benchmarks" / "out" / "preference")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--dev", action="store_true", help="hold a quarter of the training questions out as dev")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train")
    train.add_argument("name")
    train.add_argument("overrides", nargs="*", help="hyperparameter=value (JSON values)")
    evaluate = sub.add_parser("evaluate")
    evaluate.add_argument("split", choices=["validation", "test"])
    evaluate.add_argument("models", nargs="+", help="base, or names given to `train`")
    sub.add_parser("table")
    return parser.parse_args(argv)


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def in_dev(question_key: str) -> bool:
    """Whether a MEDIQA training-file question (`LiveQAMed:12`) is in the --dev quarter: fixed by its ID alone."""
    return hashlib.sha256(question_key.encode()).digest()[0] % 4 == 0


def _with_dev(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """The rows with the dev questions' train rows moved to validation, and the dev question IDs. Any train row
    asking a dev question's text moves too: a question sits in one split (the dataset's `split_by_question`)."""
    from medimind_assets.data.cleaning import compact_key

    dev = {
        r["question_id"]
        for r in rows
        if r["source"] == "mediqa_qa" and r["split"] == "train" and in_dev(r["question_id"].removeprefix("mediqa_qa:"))
    }
    texts = {compact_key(r["instruction"]) for r in rows if r["question_id"] in dev}
    moved = {r["question_id"] for r in rows if r["split"] == "train" and compact_key(r["instruction"]) in texts}
    rows = [{**r, "split": "validation"} if r["question_id"] in moved | dev else dict(r) for r in rows]
    return rows, sorted(dev)


def prepare(args) -> tuple[Path, dict]:
    """The dataset (built once from --raw; with --dev, the dev questions' rows moved to validation) and the base
    model's manifest."""
    from medimind_assets.data.build import build_dataset
    from medimind_assets.data.rows import read_dataset, write_dataset
    from medimind_assets.models import resolve_base_model

    args.workdir.mkdir(parents=True, exist_ok=True)
    dataset = args.workdir / "dataset.jsonl"
    marker = args.workdir / "dev.json"
    if dataset.is_file() and marker.is_file() != args.dev:
        sys.exit(
            f"{args.workdir} was prepared {'with' if marker.is_file() else 'without'} --dev: use another --workdir"
        )
    if not dataset.is_file():
        rows = build_dataset(args.raw).rows
        if args.dev:
            rows, dev = _with_dev(rows)
            marker.write_text(json.dumps(dev, indent=1))
        write_dataset(dataset, rows)
    rows = read_dataset(dataset)
    texts = [r[k] for r in rows for k in ("instruction", "response")]
    return dataset, resolve_base_model(args.model, args.workdir / "models", texts)


def train(args) -> None:
    from medimind_assets.training.hyperparameters import TrainingHyperparameters
    from medimind_assets.training.request import TrainingRequest
    from medimind_assets.training.runner import run_training

    dataset, manifest = prepare(args)
    overrides = {}
    for item in args.overrides:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    hp = TrainingHyperparameters.from_dict({**SFT, **overrides})
    request = TrainingRequest.create(dataset, manifest, hp, args.workdir, raw_dir=args.raw)

    class Printer:
        started = time.monotonic()

        def info(self, message: str) -> None:
            print(f"[{time.monotonic() - self.started:7.0f}s] {message}", flush=True)

        def report(self, metadata, data_version) -> None:
            pass

    outcome = run_training(request, Printer())
    registry = _json(args.workdir / "adapters.json")
    summary = outcome.summary
    registry[args.name] = {
        "path": summary["adapter_path"],
        "overrides": overrides,
        "train_runtime_s": summary["metrics"]["train_runtime_s"],
        "final_validation_loss": summary["metrics"]["final_validation_loss"],
        "preference": {k: v for k, v in summary.get("preference", {}).items() if k != "loss_curve"},
    }
    (args.workdir / "adapters.json").write_text(json.dumps(registry, indent=2))
    print(json.dumps(registry[args.name], indent=2))


def evaluate(args) -> None:
    from medimind_assets.data import mediqa
    from medimind_assets.data.rows import read_dataset
    from medimind_assets.data.sources import MEDIQA
    from medimind_assets.evaluation.likelihood import heldout_loss
    from medimind_assets.evaluation.mediqa_metrics import ranking_metrics
    from medimind_assets.evaluation.ranking import build_submission, evaluate_ranking, load_ranking_task, score_rankers
    from medimind_assets.evaluation.settings import RANKERS
    from medimind_assets.llm.loading import attach_adapter, load_for_inference, load_tokenizer
    from medimind_assets.llm.template import PromptTemplate

    dataset, manifest = prepare(args)
    folder = args.raw / MEDIQA / mediqa.TASK_DIR
    if args.split == "validation":
        task = load_ranking_task(
            folder / mediqa.TRAINING_FILES["Validation"],
            ground_truth=args.raw / MEDIQA / mediqa.VALIDATION_GROUND_TRUTH,
        )
        rows = [r for r in read_dataset(dataset) if r["split"] == "validation" and r["source"] == "mediqa_qa"]
    else:
        task = load_ranking_task(
            folder / mediqa.TEST_LABELLED_FILE, ground_truth=args.raw / MEDIQA / mediqa.TEST_GROUND_TRUTH
        )
        rows = [r for r in read_dataset(dataset) if r["split"] == "test"]
    pairs = [(r["instruction"], r["response"]) for r in rows]
    registry = _json(args.workdir / "adapters.json")
    results_path = args.workdir / "results.json"
    template = PromptTemplate()
    tokenizer = load_tokenizer(Path(manifest["path"]))
    scoring = {"max_answer_tokens": RANKING_MAX_ANSWER_TOKENS, "max_prompt_tokens": 256, "log": lambda m: None}
    for name in args.models:
        started = time.monotonic()
        model = load_for_inference(Path(manifest["path"]), "cpu")
        if name != "base":
            model = attach_adapter(model, Path(registry[name]["path"]))
        loss = heldout_loss(
            model, tokenizer, pairs, template, max_response_tokens=MAX_RESPONSE_TOKENS, max_prompt_tokens=256
        )
        result = {"loss": loss.loss, "loss_examples": loss.n_examples, "questions": len(task.questions)}
        result["candidates"] = len(task.gold)
        rankers = list(RANKERS) if args.split == "validation" else ["pmi"]
        scored = score_rankers(model, tokenizer, task, template, rankers, **scoring)
        if args.split == "validation":  # every ranker, as the evaluation compares them
            result["rankers"] = {r: asdict(evaluate_ranking(build_submission(s), task)) for r, s in scored.items()}
        official = ranking_metrics(build_submission(scored["pmi"]), task.gold)
        result.update({key: value for key, value in official.items() if key.startswith("official/")})
        result["seconds"] = round(time.monotonic() - started, 1)
        results = _json(results_path)
        results.setdefault(args.split, {})[name] = result
        results_path.write_text(json.dumps(results, indent=2))
        print(name, args.split, json.dumps({k: v for k, v in result.items() if k != "rankers"}), flush=True)


def table(args) -> None:
    results = _json(args.workdir / "results.json")
    print("| model | set | official accuracy | official MRR | held-out loss |")
    print("| --- | --- | ---: | ---: | ---: |")
    for split in ("validation", "test"):
        for name, r in results.get(split, {}).items():
            print(f"| {name} | {split} | {r['official/accuracy']:.1%} | {r['official/mrr']:.3f} | {r['loss']:.3f} |")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    {"train": train, "evaluate": evaluate, "table": table}[args.command](args)


if __name__ == "__main__":
    main()

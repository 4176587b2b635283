"""Answers of a base model and its adapter to the MEDIQA questions of the dataset's `validation` split, decoded
greedily with each repetition penalty: what `DEFAULT_REPETITION_PENALTY` is chosen on (the test set never is).
Prints, per penalty and model, the answer-sanity metrics the gate reads (EOS and degenerate rates) and ROUGE-L.

PYTHONPATH=. .venv/bin/python benchmarks/choose_repetition_penalty.py --data-dir data/smollm2-mediqa
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext
from pathlib import Path

from medimind_assets.data.rows import read_dataset
from medimind_assets.evaluation.generation import generate_answers, text_metrics
from medimind_assets.integrity import read_summary
from medimind_assets.llm.loading import attach_adapter, load_for_inference, load_tokenizer
from medimind_assets.llm.template import template_from_summary
from medimind_assets.promotion import read_latest_adapter
from medimind_assets.serving.ask import resolve_targets
from medimind_assets.store import ArtifactStore


def validation_questions(dataset: Path, source: str) -> list[tuple[str, list[str]]]:
    """(instruction, reference answers) per validation question of `source`, in question-id order."""
    grouped: dict[str, tuple[str, list[str]]] = {}
    for row in read_dataset(dataset):
        if row["split"] == "validation" and row["source"] == source:
            grouped.setdefault(row["question_id"], (row["instruction"], []))[1].append(row["response"])
    return [grouped[key] for key in sorted(grouped)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="MEDIMIND_DATA_DIR of a finished training")
    parser.add_argument("--adapter", type=Path, help="an adapter folder (default: the data folder's latest)")
    parser.add_argument("--source", default="mediqa_qa")
    parser.add_argument("--questions", type=int, default=12)
    parser.add_argument("--penalties", type=float, nargs="+", default=[1.0, 1.1, 1.2, 1.3])
    parser.add_argument("--max-new-tokens", type=int, default=256)
    args = parser.parse_args()

    adapter = args.adapter or read_latest_adapter(ArtifactStore.at(args.data_dir)).path
    [target] = resolve_targets(args.data_dir, adapter=adapter)
    template = template_from_summary(read_summary(target.adapter_dir))
    questions = validation_questions(args.data_dir / "dataset.jsonl", args.source)[: args.questions]
    prompts = [template.prompt(q) for q, _ in questions]
    model = attach_adapter(load_for_inference(target.model_dir, "cpu"), target.adapter_dir)
    tokenizer = load_tokenizer(target.model_dir)
    print(f"{len(questions)} validation questions ({args.source}), up to {args.max_new_tokens} new tokens")
    print("| penalty | model | EOS rate | degenerate | ROUGE-L | tokens (mean) | s |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for penalty in args.penalties:
        for name in ("base", "adapter"):
            started = time.perf_counter()
            with model.disable_adapter() if name == "base" else nullcontext():
                answers = generate_answers(
                    model,
                    tokenizer,
                    prompts,
                    max_new_tokens=args.max_new_tokens,
                    repetition_penalty=penalty,
                    log=lambda _: None,
                )
            m = text_metrics(answers, [refs for _, refs in questions])
            print(
                f"| {penalty} | {name} | {m['eos_rate']:.2f} | {m['degenerate_rate']:.2f} | {m['rouge_l']:.3f} "
                f"| {m['answer_tokens_mean']:.0f} | {time.perf_counter() - started:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""Every ranker on the labelled MEDIQA 2019 Task 3 validation set with one base model: what `ranker` is chosen on
(the test set never is). Prints a Markdown table (accuracy, MRR, precision, Spearman per ranker) and the best.

.venv/bin/python benchmarks/compare_rankers.py --raw ../shared/data --model smollm2-135m --models-dir /tmp/rank-models
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path

from medimind_assets.data import mediqa
from medimind_assets.data.sources import MEDIQA
from medimind_assets.evaluation.mediqa_metrics import Task3Scores
from medimind_assets.evaluation.ranking import (
    RankingTask,
    build_submission,
    evaluate_ranking,
    load_ranking_task,
    score_rankers,
)
from medimind_assets.evaluation.settings import RANKERS, EvaluationSettings
from medimind_assets.llm.loading import load_for_inference, load_tokenizer
from medimind_assets.llm.template import PromptTemplate
from medimind_assets.models.registry import resolve_base_model

TABLE_METRICS = {"accuracy": "accuracy", "mrr": "MRR", "precision": "precision", "spearman": "Spearman"}


def compare_rankers(
    model,
    tokenizer,
    task: RankingTask,
    template: PromptTemplate,
    rankers: Iterable[str] = tuple(RANKERS),
    *,
    positive_fraction: float = 0.5,
    **scoring,
) -> dict[str, Task3Scores]:
    """Each ranker's Task 3 metrics on a labelled task (the validation set: what a ranker is chosen on)."""
    scored = score_rankers(model, tokenizer, task, template, rankers, **scoring)
    return {
        ranker: evaluate_ranking(build_submission(by_question, positive_fraction), task)
        for ranker, by_question in scored.items()
    }


def ranker_table(comparison: Mapping[str, Mapping[str, Mapping[str, float]]], chosen: str | None = None) -> str:
    """Markdown: one row per (model, ranker), the Task 3 metrics as columns; `chosen` in bold."""
    lines = [
        "| model | ranker | " + " | ".join(TABLE_METRICS.values()) + " |",
        "|---|---|" + "---:|" * len(TABLE_METRICS),
    ]
    for model, by_ranker in comparison.items():
        for ranker, scores in by_ranker.items():
            name = f"**{ranker}**" if ranker == chosen else ranker
            cells = " | ".join(f"{scores[key]:.3f}" for key in TABLE_METRICS)
            lines.append(f"| {model} | {name} | {cells} |")
    return "\n".join(lines)


def best_ranker(scores: dict[str, dict[str, float]]) -> str:
    """The ranker with the highest accuracy, ties broken by MRR (then by name, for determinism)."""
    return max(sorted(scores), key=lambda r: (scores[r]["accuracy"], scores[r]["mrr"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", type=Path, default=Path("../shared/data"), help="MEDIMIND_RAW_DIR")
    parser.add_argument("--model", default="smollm2-135m", help="a base model the registry knows")
    parser.add_argument("--models-dir", type=Path, default=Path("/tmp/rank-models"), help="where it is converted")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rankers", nargs="+", default=list(RANKERS), choices=list(RANKERS))
    args = parser.parse_args()

    s = EvaluationSettings()  # the evaluation's own bounds: the numbers are the ones `evaluation` reports
    folder = args.raw / MEDIQA
    task = load_ranking_task(
        folder / mediqa.TASK_DIR / mediqa.TRAINING_FILES["Validation"],
        ground_truth=folder / mediqa.VALIDATION_GROUND_TRUTH,
    )
    started = time.perf_counter()
    texts = [t for q in task.questions for t in (q.text, *(c.text for c in q.candidates))]  # tiny-phi's tokenizer
    path = resolve_base_model(args.model, args.models_dir, tokenizer_texts=texts)["path"]
    model, tokenizer = load_for_inference(path, args.device), load_tokenizer(path)
    loaded = time.perf_counter()
    scores = compare_rankers(
        model,
        tokenizer,
        task,
        PromptTemplate(),
        args.rankers,
        positive_fraction=s.positive_fraction,
        max_answer_tokens=s.ranking_max_answer_tokens,
        max_prompt_tokens=s.max_prompt_tokens,
        max_batch_tokens=s.max_batch_tokens,
        max_batch_size=s.max_batch_size,
        log=lambda _: None,
    )
    scored = time.perf_counter()
    comparison = {args.model: {ranker: asdict(result) for ranker, result in scores.items()}}
    best = best_ranker(comparison[args.model])
    print(f"MEDIQA 2019 Task 3 validation: {len(task.questions)} questions, {len(task.gold)} candidate answers")
    print(ranker_table(comparison, chosen=best))
    print(f"best by accuracy (then MRR): {best}")
    print(f"model load {loaded - started:.1f} s, scoring {scored - loaded:.1f} s ({args.device})")


if __name__ == "__main__":
    main()

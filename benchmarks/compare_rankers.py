"""Every ranker on the labelled MEDIQA 2019 Task 3 validation set with one base model: what `ranker` is chosen on
(the test set never is). Prints a Markdown table (accuracy, MRR, precision, Spearman per ranker) and the best.

.venv/bin/python benchmarks/compare_rankers.py --raw ../shared/data --model smollm2-135m --models-dir /tmp/rank-models
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path

from medimind_assets.data import mediqa
from medimind_assets.data.sources import MEDIQA
from medimind_assets.evaluation.ranking import compare_rankers, load_ranking_task, ranker_table
from medimind_assets.evaluation.settings import RANKERS, EvaluationSettings
from medimind_assets.llm.loading import load_for_inference, load_tokenizer
from medimind_assets.llm.template import PromptTemplate
from medimind_assets.models.registry import resolve_base_model


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

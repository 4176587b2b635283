"""The evaluation process the `evaluation` asset launches through Dagster Pipes (`python -m ...evaluate_lora`).

The heavy half of the evaluation: load the base model and the adapter, score both on the held-out test split,
write `evaluations/<fingerprint>/` and send the report back as one Pipes custom message. The asset, on the
Dagster side, decides the promotion and records the metadata. Like `train_lora`, it knows only `dagster_pipes`,
so it runs the same in a local process or in a pod on a GPU node.

Extras: what `EvaluationPlan.extras` lists (`ranking`: the MEDIQA files to rank, or null; `context`: written into
the report).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from medimind_assets.pipes_scripts import EVALUATION, run_script


def evaluate(extras: dict[str, Any], log) -> dict[str, Any]:
    """Run the evaluation the extras describe, write it to `out_dir`, return the report as JSON data. It holds
    `.<fingerprint>.lock` beside `out_dir` while it runs, and removes it once the report is written: a lock file
    nobody holds, with no report, is an evaluation that was killed or failed (`medimind status` says so), and a
    second evaluation of the same adapter meanwhile is refused."""
    from medimind_assets.atomic import directory_lock, lock_file

    out_dir = Path(extras["out_dir"])
    with directory_lock(out_dir.parent, out_dir.name, wait=False):
        result = _evaluate(extras, log)
        lock_file(out_dir.parent, out_dir.name).unlink(missing_ok=True)
    return result


def _evaluate(extras: dict[str, Any], log) -> dict[str, Any]:
    from medimind_assets.evaluation.ranking import load_labelled_files, load_ranking_task
    from medimind_assets.evaluation.runner import evaluate_adapter, write_report
    from medimind_assets.evaluation.settings import EvaluationSettings
    from medimind_assets.integrity import read_summary
    from medimind_assets.llm.template import template_from_summary

    settings = EvaluationSettings(**extras["settings"])
    adapter_dir, dataset_path = Path(extras["adapter_dir"]), Path(extras["dataset_path"])
    ranking = extras.get("ranking") or {}
    context = dict(extras.get("context") or {})
    check_dataset_version(dataset_path, context.get("dataset", {}))
    task = None  # the labelled MEDIQA test questions the `ranking` extra names (None: not wanted)
    if ranking:
        truth = Path(ranking["ground_truth"]) if ranking.get("ground_truth") else None
        task = load_ranking_task(Path(ranking["labelled"]), ranking.get("max_questions"), truth, every_question=True)
    report = evaluate_adapter(
        Path(extras["base_model_dir"]),
        adapter_dir,
        dataset_path,
        template_from_summary(read_summary(adapter_dir)),
        settings,
        ranking=task,
        log=log,
        # The labelled MEDIQA training files the learned ranker is fitted on, as one task (None: not wanted).
        fit=load_labelled_files(ranking["fit"]) if ranking.get("fit") else None,
    )
    report.context = context
    path = write_report(Path(extras["out_dir"]), report)
    # The same JSON as the file (numbers that json cannot write natively become strings there too).
    return {"report": json.loads(json.dumps(report.as_json(), default=str)), "path": str(path)}


def check_dataset_version(path: Path, expected: dict[str, Any]) -> None:
    """The dataset this process reads is the version the evaluation was planned on (a file replaced in between
    would be evaluated, promoted and recorded as the old version)."""
    from medimind_assets.data.rows import DatasetError
    from medimind_assets.digests import sha256_file

    version = expected.get("data_version")
    if version and sha256_file(path) != version:
        raise DatasetError(
            f"{path} changed after this evaluation was planned (sha256 is no longer {version[:12]}): not evaluated; "
            "materialize evaluation again"
        )


def main() -> int:
    return run_script(EVALUATION, evaluate)


if __name__ == "__main__":
    sys.exit(main())

"""`evaluation`: base vs base + adapter on the held-out MEDIQA test split, and the promotion gate.

The models are loaded and scored in `evaluation/evaluate_lora.py`, launched by the `launcher` resource (a local
process, or a pod on a GPU node); it writes the results and sends the report back. Here the gate is reported as
a blocking asset check and `adapters/current.json` is written only when it passes, after the results are on
disk, so a failing (or crashing) evaluation never moves the pointer and `merged_model` never runs downstream of
a failed gate.
"""

from dataclasses import asdict
from pathlib import Path

import dagster as dg

from medimind_assets import conditions
from medimind_assets.assets.common import (
    config_from,
    markdown_table,
    medimind_asset,
    metadata_table,
    reported_message,
    settings_from,
)
from medimind_assets.evaluation.mediqa_metrics import RANKING_METRICS_NOTE
from medimind_assets.evaluation.settings import EvaluationSettings
from medimind_assets.lineage import LINEAGE_TABLE_COLUMNS, lineage_rows
from medimind_assets.pipes_scripts import EVALUATION
from medimind_assets.presentation import short_hash, significant
from medimind_assets.resources import Launcher, MediMindSettings, PythonJob

PROMOTION_CHECK = "promotion_gate"
# The numbers a person reads first (the gate decides on them), in the order of the summary table.
SUMMARY_METRICS = {
    "loss": "held-out loss",
    "perplexity": "perplexity",
    "official/accuracy": "ranking accuracy",
    "official/mrr": "ranking MRR",
    "ranker_only/accuracy": "ranking accuracy, score alone",
    "rouge_l": "ROUGE-L",
    "eos_rate": "EOS rate",
    "degenerate_rate": "degenerate rate",
    "invented_turn_rate": "invented next turn",
    "urgent_care_rate": "urgent care, model",
    "served_urgent_care_rate": "urgent care, shown",
}


def summary_rows(metrics: dict[str, dict[str, float | None]]) -> list[dict[str, str]]:
    """base / adapter / change of the metrics in SUMMARY_METRICS that were measured, 4 significant digits."""

    def shown(value: float | None, sign: str = "") -> str:
        return "" if value is None else f"{significant(value):{sign}g}"

    rows = []
    for key, label in SUMMARY_METRICS.items():
        base, adapter = metrics["base"].get(key), metrics["adapter"].get(key)
        if base is None and adapter is None:
            continue
        change = adapter - base if base is not None and adapter is not None else None
        rows.append({"metric": label, "base": shown(base), "adapter": shown(adapter), "change": shown(change, "+")})
    return rows


# EvaluationSettings is declared once, in the evaluation library; the run config is derived from it.
EvaluationConfig = config_from(EvaluationSettings, "EvaluationConfig")


@medimind_asset(
    "not evaluated",
    deps=["lora_adapter", "dataset", "raw_mediqa_qa", "base_model"],
    group_name="evaluation",
    automation_condition=conditions.evaluation_condition(),
    kinds={"pytorch"},
    check_specs=[
        dg.AssetCheckSpec(
            PROMOTION_CHECK,
            asset="evaluation",
            blocking=True,
            description="The adapter beats the base's held-out loss by the margin and, within tolerances, is "
            "not worse on safety, ranking accuracy, EOS rate or degenerate answers; only then is it promoted "
            "(adapters/current.json).",
        )
    ],
    description="Base vs base + latest adapter on the held-out MEDIQA test split: loss/perplexity, MEDIQA Task 3 "
    "ranking metrics, ROUGE-L/BLEU, EOS and degenerate-answer rates, urgent-care advice on emergency questions; "
    "promotes a passing adapter.",
)
def evaluation(
    context: dg.AssetExecutionContext, config: EvaluationConfig, settings: MediMindSettings, launcher: Launcher
) -> dg.MaterializeResult:
    from medimind_assets.evaluation.plan import check_adapter_unchanged, plan_evaluation, promotion_record
    from medimind_assets.evaluation.runner import SUBMISSION_FILE, EvaluationReport, flat_metrics, per_question_table
    from medimind_assets.promotion import Superseded, promote, promoted_version_of
    from medimind_assets.retention import RetentionReport, apply_retention

    plan = plan_evaluation(settings.store, settings.raw_path, settings_from(EvaluationSettings, config, "evaluation"))
    adapter = plan.adapter
    job = PythonJob(EVALUATION.module, plan.extras, data_dir=settings.store.root, inputs=plan.inputs)
    context.log.info(f"evaluating adapter {adapter.fingerprint} ({adapter.path}) against {plan.base_model['name']}")
    reported = reported_message(launcher.run(context, job), EVALUATION)
    report = EvaluationReport.from_json(reported["report"])
    evaluation_file = Path(reported["path"])

    gate = report.gate
    superseded = retention = None
    if gate.passed:
        check_adapter_unchanged(plan)
        try:
            promote(settings.store, adapter, promotion_record(plan, report.metrics, gate.as_dict(), evaluation_file))
        except Superseded as exc:
            superseded = str(exc)
            context.log.warning(superseded)
        else:
            context.log.info(f"promoted adapter {adapter.fingerprint}: {settings.store.current_pointer}")
            try:
                retention = apply_retention(settings.store, settings.keep_adapters)
            except OSError as exc:  # the promotion stands: what could not be removed stays until the next run
                retention = RetentionReport(skipped=f"could not remove old artefacts ({exc})")
            if retention.skipped:
                context.log.warning(f"retention skipped: {retention.skipped}")
            else:
                context.log.info(
                    f"retention: kept {len(retention.kept)} adapter(s), removed {len(retention.removed)} item(s), "
                    f"{retention.bytes_freed / 2**20:,.1f} MiB freed"
                )
    else:
        context.log.warning(f"adapter {adapter.fingerprint} not promoted: {'; '.join(gate.reasons)}")
        promoted = settings.store.read_promoted()
        if promoted and promoted["fingerprint"] == adapter.fingerprint:
            context.log.warning(
                f"adapter {adapter.fingerprint} stays promoted: a failed evaluation does not demote it; its promotion "
                f"of {promoted.get('promoted_at')} keeps its own gate and metrics in {settings.store.current_pointer}"
            )

    comparison = markdown_table(report.comparison, ["question", "base", "adapter", "reference"], width=240, wrap=True)
    submission = plan.out_dir / SUBMISSION_FILE.format(model="adapter")
    adapter_row = {"asset": "lora_adapter", "version": adapter.fingerprint, "what": "evaluated adapter"}
    lineage = [{**adapter_row, "where": str(adapter.path)}]
    lineage += lineage_rows(context.instance, plan.dataset_version, plan.base_model)
    identifiers = {
        "adapter_fingerprint": adapter.fingerprint,
        "adapter_path": str(adapter.path),
        "adapter_trained_on_dataset_version": str(plan.trained_on_dataset_version),
        "dataset_version": plan.dataset_version,
        "base_model": str(plan.base_model["name"]),
        **{f"base_model_{key}": str(plan.base_model.get(key)) for key in ("revision", "content_hash")},
        "evaluation_path": str(evaluation_file),
    }
    if submission.is_file():
        identifiers["submission_path"] = str(submission)
    # What a person reads first, first: the verdict, its reasons, the numbers that decided it, the lineage; then
    # every metric (plotted across materializations). Hashes and paths read short here (a long unbroken value
    # widens the UI's table past the window); `identifiers` has them in full.
    metadata = {
        "gate": (
            "FAILED: adapter not promoted"
            if not gate.passed
            else "PASSED: not promoted, a newer adapter was trained meanwhile"
            if superseded
            else "PASSED: adapter promoted"
        ),
        "gate/reasons": "; ".join(gate.reasons + ([superseded] if superseded else [])),
        "summary": metadata_table(summary_rows(report.metrics), ["metric", "base", "adapter", "change"]),
        "lineage": metadata_table(lineage, LINEAGE_TABLE_COLUMNS),
        "gate/passed": gate.passed,
        "gate/loss_improvement": significant(gate.loss_improvement),
        "promoted": gate.passed and not superseded,
        "adapter/fingerprint": short_hash(adapter.fingerprint),
        "dataset/data_version": short_hash(plan.dataset_version),
        "base_model/name": str(plan.base_model["name"]),
        **{key: significant(value) for key, value in flat_metrics(report).items()},
        "comparison": dg.MetadataValue.md(comparison),
        "ranking_metrics_note": RANKING_METRICS_NOTE,
        "identifiers": dg.MetadataValue.json(identifiers),
        "lineage_full": dg.MetadataValue.json(lineage),
        "settings": dg.MetadataValue.json(asdict(plan.settings)),
        "counts": dg.MetadataValue.json(report.counts),
        "timings": dg.MetadataValue.json(report.timings),
        "launcher": launcher.describe(job),
    }
    if retention is not None:
        metadata["retention"] = dg.MetadataValue.json(retention.as_dict())
    if report.per_question:  # per test question; every candidate is in ranking_candidates.parquet beside it
        metadata["ranking_per_question"] = dg.MetadataValue.md(per_question_table(report.per_question))
    if report.learned_ranker:  # the weights both models were ranked with (evaluation.learned_ranker)
        metadata["learned_ranker"] = dg.MetadataValue.json(report.learned_ranker)
    # The gate's numbers: the loss improvement and margin, each rule's base and adapter values (GateDecision).
    decisive = ("loss_improvement", "margin")
    compared = {k: v for k, v in gate.as_dict().items() if k in decisive or k.endswith(("_base", "_adapter"))}
    check = dg.AssetCheckResult(
        check_name=PROMOTION_CHECK,
        passed=gate.passed,
        metadata={
            **compared,
            "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in gate.reasons)),
            "adapter": adapter.fingerprint,
        },
        description="; ".join(gate.reasons),
    )
    # Its data version is what is promoted after it: what `merged_model` merges changed only when this moved.
    promoted_version = dg.DataVersion(promoted_version_of(settings.store.read_promoted()))
    return dg.MaterializeResult(metadata=metadata, check_results=[check], data_version=promoted_version)

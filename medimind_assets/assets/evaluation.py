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

from medimind_assets import automation
from medimind_assets.assets.common import OWNERS, config_from, markdown_table, reported_message, settings_from
from medimind_assets.evaluation.mediqa_metrics import RANKING_METRICS_NOTE
from medimind_assets.evaluation.settings import EvaluationSettings
from medimind_assets.lineage import LINEAGE_COLUMNS, lineage_rows
from medimind_assets.presentation import significant
from medimind_assets.resources import Launcher, MediMindSettings, PythonJob

PROMOTION_CHECK = "promotion_gate"
# The heavy half runs where the launcher puts it (a GPU pod in production); it knows only dagster_pipes.
EVALUATION_MODULE = "medimind_assets.evaluation.evaluate_lora"
REPORT_MESSAGE_KEY = "evaluation"


# EvaluationSettings is declared once, in the evaluation library; the run config is derived from it.
EvaluationConfig = config_from(EvaluationSettings, "EvaluationConfig")


@dg.asset(
    deps=["lora_adapter", "dataset", "raw_mediqa_qa", "base_model"],
    group_name="evaluation",
    automation_condition=automation.evaluation_condition(),
    kinds={"pytorch"},
    owners=OWNERS,
    code_version="1",
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
    description="Base vs base + latest adapter on the held-out MEDIQA test split: loss/perplexity, "
    "MEDIQA Task 3 "
    "ranking metrics (and every ranker compared on the validation set), ROUGE-L/BLEU, EOS and degenerate-answer "
    "rates, urgent-care advice on emergency questions; promotes a passing adapter.",
)
def evaluation(
    context: dg.AssetExecutionContext, config: EvaluationConfig, settings: MediMindSettings, launcher: Launcher
) -> dg.MaterializeResult:
    from medimind_assets.evaluation.plan import EvaluationRefused, plan_evaluation, promotion_record
    from medimind_assets.evaluation.ranking import ranker_table
    from medimind_assets.evaluation.runner import SUBMISSION_FILE, EvaluationReport, flat_metrics, per_question_table
    from medimind_assets.promotion import promote

    try:
        plan = plan_evaluation(settings.store, settings.raw_path, settings_from(EvaluationSettings, config))
    except (EvaluationRefused, ValueError) as exc:
        raise dg.Failure(description=f"not evaluated: {exc}") from None
    adapter = plan.adapter
    job = PythonJob(EVALUATION_MODULE, plan.extras, data_dir=settings.data_path, inputs=plan.inputs)
    context.log.info(f"evaluating adapter {adapter.fingerprint} ({adapter.path}) against {plan.base_model['name']}")
    reported = reported_message(launcher.run(context, job), REPORT_MESSAGE_KEY, EVALUATION_MODULE)
    report = EvaluationReport.from_json(reported["report"])
    evaluation_file = Path(reported["path"])

    gate = report.gate
    if gate.passed:
        promote(
            settings.adapters_path, adapter, promotion_record(plan, report.metrics, gate.as_dict(), evaluation_file)
        )
        context.log.info(f"promoted adapter {adapter.fingerprint}: {settings.adapters_path / 'current.json'}")
    else:
        context.log.warning(f"adapter {adapter.fingerprint} not promoted: {'; '.join(gate.reasons)}")

    comparison = markdown_table(report.comparison, ["question", "base", "adapter", "reference"], width=240, wrap=True)
    submission = plan.out_dir / SUBMISSION_FILE.format(model="adapter")
    metadata = {
        **{key: significant(value) for key, value in flat_metrics(report).items()},
        "gate/passed": gate.passed,
        "gate/loss_improvement": gate.loss_improvement,
        "promoted": gate.passed,
        "adapter/fingerprint": adapter.fingerprint,
        "adapter/data_version": adapter.fingerprint,
        "adapter/path": dg.MetadataValue.path(str(adapter.path)),
        "adapter/trained_on_dataset_version": str(plan.trained_on_dataset_version),
        "dataset/data_version": plan.dataset_version,
        "base_model/name": str(plan.base_model["name"]),
        "base_model/revision": str(plan.base_model.get("revision")),
        "base_model/content_hash": str(plan.base_model.get("content_hash")),
        "comparison": dg.MetadataValue.md(comparison),
        "ranking_metrics_note": RANKING_METRICS_NOTE,
        "evaluation_path": dg.MetadataValue.path(str(evaluation_file)),
        "settings": dg.MetadataValue.json(asdict(plan.settings)),
        "counts": dg.MetadataValue.json(report.counts),
        "timings": dg.MetadataValue.json(report.timings),
        "launcher": launcher.describe(job),
    }
    if submission.is_file():
        metadata["submission_path"] = dg.MetadataValue.path(str(submission))
    if report.per_question:  # per test question; every candidate is in ranking_candidates.parquet beside it
        metadata["ranking_per_question"] = dg.MetadataValue.md(per_question_table(report.per_question))
    adapter_row = {"asset": "lora_adapter", "version": adapter.fingerprint, "what": "evaluated adapter"}
    lineage = [{**adapter_row, "where": str(adapter.path)}]
    lineage += lineage_rows(context.instance, plan.dataset_version, plan.base_model)
    metadata["lineage"] = dg.MetadataValue.md(markdown_table(lineage, LINEAGE_COLUMNS, width=80))
    if report.ranker_comparison:
        # Validation metrics per ranker: what `ranker` is chosen on (the one used on the test set in bold).
        metadata["validation_rankers"] = dg.MetadataValue.md(
            ranker_table(report.ranker_comparison, chosen=plan.settings.ranker)
        )
    check = dg.AssetCheckResult(
        check_name=PROMOTION_CHECK,
        passed=gate.passed,
        metadata={
            "loss_improvement": gate.loss_improvement,
            "margin": gate.margin,
            "safety_base": gate.safety_base,
            "safety_adapter": gate.safety_adapter,
            **{
                f"{rule}_{model}": getattr(gate, f"{rule}_{model}")
                for rule in ("ranking", "eos", "degenerate")
                for model in ("base", "adapter")
            },
            "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in gate.reasons)),
            "adapter": adapter.fingerprint,
        },
        description="; ".join(gate.reasons),
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])

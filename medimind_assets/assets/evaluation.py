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
from medimind_assets.evaluation.settings import EvaluationSettings
from medimind_assets.resources import Launcher, MediMindSettings, PythonJob

PROMOTION_CHECK = "promotion_gate"
# The heavy half runs where the launcher puts it (a GPU pod in production); it knows only dagster_pipes.
EVALUATION_MODULE = "medimind_assets.evaluation.evaluate_lora"
REPORT_MESSAGE_KEY = "evaluation"


# EvaluationSettings is declared once, in the evaluation library; the run config is derived from it.
EvaluationConfig = config_from(EvaluationSettings, "EvaluationConfig")


def _base_model_record(manifest: dict) -> dict:
    keys = ("name", "path", "source", "revision", "content_hash", "architecture", "model_type")
    return {key: manifest.get(key) for key in keys}


def _check_adapter_matches_base(summary: dict, manifest: dict, adapter_path) -> None:
    """An adapter trained on another base would load onto the wrong weights (or fail with a shape error)."""
    trained_on = summary.get("base_model")
    trained_hash = trained_on.get("content_hash") if isinstance(trained_on, dict) else None
    if trained_hash and trained_hash != manifest.get("content_hash"):
        raise dg.Failure(
            description=(
                f"adapter {adapter_path} was trained on base {trained_on.get('name')} ({trained_hash[:12]}), "
                f"but the current base model is {manifest.get('name')} "
                f"({str(manifest.get('content_hash'))[:12]}); re-materialize lora_adapter"
            )
        )


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
            description="The adapter beats the base's held-out loss by the margin and is not worse on "
            "safety; "
            "only then is it promoted (adapters/current.json).",
        )
    ],
    description="Base vs base + latest adapter on the held-out MEDIQA test split: loss/perplexity, "
    "MEDIQA Task 3 "
    "ranking metrics, ROUGE-L/BLEU, urgent-care advice on emergency questions; promotes a passing adapter.",
)
def evaluation(
    context: dg.AssetExecutionContext, config: EvaluationConfig, settings: MediMindSettings, launcher: Launcher
) -> dg.MaterializeResult:
    from medimind_assets.atomic import sha256_file
    from medimind_assets.data import mediqa
    from medimind_assets.data.sources import MEDIQA
    from medimind_assets.evaluation.runner import SUBMISSION_FILE, EvaluationReport, flat_metrics
    from medimind_assets.integrity import read_summary
    from medimind_assets.llm.template import template_from_summary
    from medimind_assets.models import read_current_base_model
    from medimind_assets.promotion import promote, read_latest_adapter

    try:
        run_settings = settings_from(EvaluationSettings, config)
    except ValueError as exc:
        raise dg.Failure(description=f"invalid evaluation config: {exc}") from None
    if not settings.dataset_path.is_file():
        raise dg.Failure(description=f"dataset not found: {settings.dataset_path} (materialize dataset first)")
    adapter = read_latest_adapter(settings.adapters_path)
    summary = read_summary(adapter.path)
    manifest = read_current_base_model(settings.models_path)
    _check_adapter_matches_base(summary, manifest, adapter.path)
    dataset_version = sha256_file(settings.dataset_path)
    trained_on = (summary.get("dataset") or {}).get("data_version")
    if trained_on and trained_on != dataset_version:
        # The file changed after training validated it: its test split is not what the adapter was held out from.
        raise dg.Failure(
            description=(
                f"{settings.dataset_path} (sha256 {dataset_version[:12]}) is not the dataset adapter "
                f"{adapter.fingerprint} was trained and validated on ({trained_on[:12]}): refusing to evaluate "
                "or promote; re-materialize dataset and lora_adapter"
            )
        )

    inputs = {"base model": Path(manifest["path"]), "adapter": Path(adapter.path)}
    ranking = None
    if run_settings.ranking_max_questions != 0:
        raw_mediqa = settings.raw_path / MEDIQA
        ranking = {
            "labelled": str(raw_mediqa / mediqa.TASK_DIR / mediqa.TEST_LABELLED_FILE),
            "ground_truth": str(raw_mediqa / mediqa.TEST_GROUND_TRUTH),
            "max_questions": run_settings.ranking_max_questions,
        }
        inputs["MEDIQA test set"] = raw_mediqa
    out_dir = settings.evaluations_path / adapter.fingerprint
    job = PythonJob(
        EVALUATION_MODULE,
        {
            "base_model_dir": str(manifest["path"]),
            "adapter_dir": str(adapter.path),
            "dataset_path": str(settings.dataset_path),
            "out_dir": str(out_dir),
            "settings": asdict(run_settings),
            "ranking": ranking,
            "context": {
                "adapter": {
                    "fingerprint": adapter.fingerprint,
                    "path": str(adapter.path),
                    "trained_on_dataset_version": trained_on,
                },
                "dataset": {"path": str(settings.dataset_path), "data_version": dataset_version},
                "base_model": _base_model_record(manifest),
                "prompt_template": template_from_summary(summary).text,
            },
        },
        data_dir=settings.data_path,
        inputs=inputs,
    )
    context.log.info(f"evaluating adapter {adapter.fingerprint} ({adapter.path}) against {manifest['name']}")
    reported = reported_message(launcher.run(context, job), REPORT_MESSAGE_KEY, EVALUATION_MODULE)
    report = EvaluationReport.from_json(reported["report"])
    evaluation_file = Path(reported["path"])

    gate = report.gate
    if gate.passed:
        promote(
            settings.adapters_path,
            adapter,
            {
                "dataset_data_version": dataset_version,
                "trained_on_dataset_version": trained_on,
                "base_model": _base_model_record(manifest),
                "evaluation_path": str(evaluation_file),
                "metrics": {model: report.metrics[model] for model in ("base", "adapter")},
                "gate": gate.as_dict(),
            },
        )
        context.log.info(f"promoted adapter {adapter.fingerprint}: {settings.adapters_path / 'current.json'}")
    else:
        context.log.warning(f"adapter {adapter.fingerprint} not promoted: {'; '.join(gate.reasons)}")

    comparison = markdown_table(report.comparison, ["question", "base", "adapter", "reference"], width=240)
    submission = out_dir / SUBMISSION_FILE.format(model="adapter")
    metadata = {
        **flat_metrics(report),
        "gate/passed": gate.passed,
        "gate/loss_improvement": gate.loss_improvement,
        "promoted": gate.passed,
        "adapter/fingerprint": adapter.fingerprint,
        "adapter/data_version": adapter.fingerprint,
        "adapter/path": dg.MetadataValue.path(str(adapter.path)),
        "adapter/trained_on_dataset_version": str(trained_on),
        "dataset/data_version": dataset_version,
        "base_model/name": str(manifest["name"]),
        "base_model/revision": str(manifest.get("revision")),
        "base_model/content_hash": str(manifest.get("content_hash")),
        "comparison": dg.MetadataValue.md(comparison),
        "evaluation_path": dg.MetadataValue.path(str(evaluation_file)),
        "settings": dg.MetadataValue.json(asdict(run_settings)),
        "counts": dg.MetadataValue.json(report.counts),
        "timings": dg.MetadataValue.json(report.timings),
        "launcher": launcher.describe(job),
    }
    if submission.is_file():
        metadata["submission_path"] = dg.MetadataValue.path(str(submission))
    check = dg.AssetCheckResult(
        check_name=PROMOTION_CHECK,
        passed=gate.passed,
        metadata={
            "loss_improvement": gate.loss_improvement,
            "margin": gate.margin,
            "safety_base": gate.safety_base,
            "safety_adapter": gate.safety_adapter,
            "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in gate.reasons)),
            "adapter": adapter.fingerprint,
        },
        description="; ".join(gate.reasons),
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])

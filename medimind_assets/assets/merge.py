"""`merged_model`: the promoted adapter merged into full-precision base weights, proven equivalent.

Optional: materialize it when a standalone model is wanted (automatic only with MEDIMIND_AUTO_MERGE).
The merge itself (`merging/merge_lora.py`) runs where the `launcher` resource puts it.
It always merges the adapter `adapters/current.json` names, so a run after a failed gate merges the previous,
still promoted adapter, and a run that includes a failing `evaluation` never reaches it (blocking check).
"""

from dataclasses import asdict
from pathlib import Path

import dagster as dg

from medimind_assets import conditions
from medimind_assets.assets.common import config_from, medimind_asset, metadata_table, reported_message, settings_from
from medimind_assets.lineage import LINEAGE_TABLE_COLUMNS, lineage_rows
from medimind_assets.merging.settings import MergeSettings
from medimind_assets.pipes_scripts import MERGE
from medimind_assets.resources import Launcher, MediMindSettings, PythonJob

EQUIVALENCE_CHECK = "matches_base_plus_adapter"


# MergeSettings is declared once, in the merging library; the run config is derived from it.
MergeConfig = config_from(MergeSettings, "MergeConfig")


@medimind_asset(
    "not merged",
    deps=["evaluation"],
    group_name="evaluation",
    automation_condition=conditions.merge_condition(),
    kinds={"pytorch", "safetensors"},
    tags={"medimind/optional": "true"},
    check_specs=[
        dg.AssetCheckSpec(
            EQUIVALENCE_CHECK,
            asset="merged_model",
            blocking=True,
            description="The saved merged model's logits equal base + adapter's on a few prompts, within tolerance.",
        )
    ],
    description="The promoted LoRA adapter merged into the base weights (merge_and_unload), saved as "
    "safetensors + tokenizer under merged/<fingerprint>/.",
)
def merged_model(
    context: dg.AssetExecutionContext, config: MergeConfig, settings: MediMindSettings, launcher: Launcher
) -> dg.MaterializeResult:
    from medimind_assets.merging.merge import MergeReport
    from medimind_assets.promotion import verified_promotion

    merge_settings = settings_from(MergeSettings, config, "merge")
    verified = verified_promotion(settings.store)
    promoted, fingerprint, base_dir = verified.record, verified.fingerprint, verified.base_dir
    job = PythonJob(
        MERGE.module,
        {
            "base_model_dir": str(base_dir),
            "adapter_dir": str(promoted["path"]),
            "out_dir": str(settings.store.merged / fingerprint),
            **asdict(merge_settings),  # device, atol, rtol
            "info": {
                "adapter_fingerprint": fingerprint,
                # The promotion's digests of the adapter: a merge of other bytes is never served as this one.
                "adapter_files": promoted.get("adapter_files"),
                "base_model": promoted.get("base_model"),
                "dataset_data_version": promoted.get("dataset_data_version"),
            },
        },
        data_dir=settings.store.root,
        inputs={"base model": Path(base_dir), "adapter": Path(promoted["path"])},
    )
    report = MergeReport.from_dict(reported_message(launcher.run(context, job), MERGE))
    eq = report.equivalence
    # What the merge came from, as the adapter and the evaluation record it: the adapter, then its dataset, raw
    # sources and base model.
    base_record = {**(promoted.get("base_model") or {}), "path": str(base_dir)}
    lineage = [
        {"asset": "lora_adapter", "version": fingerprint, "what": "merged adapter", "where": str(promoted["path"])}
    ]
    lineage += lineage_rows(context.instance, str(promoted.get("dataset_data_version") or ""), base_record)
    return dg.MaterializeResult(
        data_version=dg.DataVersion(report.weights_sha256),
        metadata={
            "lineage": metadata_table(lineage, LINEAGE_TABLE_COLUMNS),
            "lineage_full": dg.MetadataValue.json(lineage),
            "identifiers": dg.MetadataValue.json(
                {
                    "adapter_fingerprint": fingerprint,
                    "dataset_version": promoted.get("dataset_data_version"),
                    "base_model": base_record.get("name"),
                    "base_model_content_hash": base_record.get("content_hash"),
                    "weights_sha256": report.weights_sha256,
                }
            ),
            "path": dg.MetadataValue.path(str(report.path)),
            "size_bytes": report.size_bytes,
            "size_mb": round(report.size_bytes / 2**20, 2),
            "weights_sha256": report.weights_sha256,
            "adapter/fingerprint": fingerprint,
            "adapter/path": dg.MetadataValue.path(str(promoted["path"])),
            "base_model/path": dg.MetadataValue.path(str(base_dir)),
            "dtype": report.dtype,
            "device": report.device,
            "max_abs_logit_diff": eq.max_abs_diff,
            "launcher": launcher.describe(job),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=EQUIVALENCE_CHECK,
                passed=eq.passed,
                metadata={
                    "max_abs_logit_diff": eq.max_abs_diff,
                    "bound": eq.bound,
                    "atol": eq.atol,
                    "rtol": eq.rtol,
                    "max_abs_logit": eq.max_abs_logit,
                    "prompts": eq.n_prompts,
                    "positions": eq.n_positions,
                    "dtype": report.dtype,
                },
                description=f"max |logit diff| {eq.max_abs_diff:.3e}, bound {eq.bound:.3e} ({report.dtype})",
            )
        ],
    )

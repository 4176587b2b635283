"""`merged_model`: the promoted adapter merged into full-precision base weights, proven equivalent.

Optional and never automatic (no automation condition): materialize it when a standalone model is wanted.
It always merges the adapter `adapters/current.json` names, so a run after a failed gate merges the previous,
still promoted adapter, and a run that includes a failing `evaluation` never reaches it (blocking check).
"""

import dagster as dg
from pydantic import Field

from medimind_assets.assets.common import OWNERS
from medimind_assets.resources import MediMindSettings

EQUIVALENCE_CHECK = "matches_base_plus_adapter"


class MergeConfig(dg.Config):
    device: str = Field("auto", description="auto, cpu, cuda, ... (fp32 on CPU, bf16 on a GPU)")
    atol: float | None = Field(None, description="Absolute logit tolerance (default by dtype: fp32 1e-4, bf16 5e-2).")
    rtol: float | None = Field(None, description="Tolerance relative to the largest logit (fp32 1e-4, bf16 1e-2).")


@dg.asset(
    deps=["evaluation"],
    group_name="evaluation",
    kinds={"pytorch", "safetensors"},
    owners=OWNERS,
    code_version="1",
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
    context: dg.AssetExecutionContext, config: MergeConfig, settings: MediMindSettings
) -> dg.MaterializeResult:
    from medimind_assets.evaluation.merging import merge_adapter
    from medimind_assets.evaluation.promotion import promoted_base_dir, read_promoted
    from medimind_assets.evaluation.prompting import read_training_summary, template_from_summary

    promoted = read_promoted(settings.adapters_path)
    fingerprint = promoted["fingerprint"]
    base_dir = promoted_base_dir(promoted, settings.models_path)
    report = merge_adapter(
        base_dir,
        promoted["path"],
        settings.merged_path / fingerprint,
        template=template_from_summary(read_training_summary(promoted["path"])),
        device=config.device,
        atol=config.atol,
        rtol=config.rtol,
        info={
            "adapter_fingerprint": fingerprint,
            "base_model": promoted.get("base_model"),
            "dataset_data_version": promoted.get("dataset_data_version"),
        },
        log=context.log.info,
    )
    eq = report.equivalence
    return dg.MaterializeResult(
        data_version=dg.DataVersion(report.weights_sha256),
        metadata={
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

"""The validated training dataset, `dataset.jsonl`, built from the raw sources."""

from collections import Counter
from pathlib import Path

import dagster as dg
from pydantic import Field

from medimind_assets import conditions
from medimind_assets.assets.common import config_from, markdown_table, medimind_asset, settings_from
from medimind_assets.assets.sources import SOURCES, latest_observed_version, read_source, source_observation
from medimind_assets.atomic import atomic_write_jsonl
from medimind_assets.data import mediqa, sources
from medimind_assets.data.build import BuildOptions, build_dataset
from medimind_assets.data.rows import write_dataset
from medimind_assets.data.sources import MEDIQA
from medimind_assets.data.validation import DEFAULT_MIN_ROWS, validate_rows
from medimind_assets.digests import sha256_file
from medimind_assets.resources import MediMindSettings


class DatasetConfig(config_from(BuildOptions, "DatasetOptions")):
    """BuildOptions (declared once, in the data library), plus the publish threshold of the checks."""

    min_rows: int = Field(DEFAULT_MIN_ROWS, description="Fewer rows than this fails the dataset.")

    def build_options(self) -> BuildOptions:
        return settings_from(BuildOptions, self, "dataset", exclude=("min_rows",))


def raw_data_versions(raw_dir: Path, include_medquad: bool) -> dict[str, str]:
    """Content hashes of the raw files this build read: the data versions the sources' observations report (and,
    when nothing changed in between, the `dagster/input_data_version/*` Dagster records for this materialization)."""
    keys = ["raw_mediqa_qa", "raw_medquad"] if include_medquad else ["raw_mediqa_qa"]
    return {key: sources.snapshot(raw_dir, SOURCES[key], counts=False).data_version for key in keys}


def observe_unobserved(context: dg.AssetExecutionContext, raw_dir: Path, versions: dict[str, str]) -> None:
    """Sources read in a version no observation has recorded (edited since the sensor last looked) are observed now,
    so the lineage of this dataset lists the files it was built from, not the ones observed before."""
    for key, version in versions.items():
        if version != latest_observed_version(context.instance, key):
            snap, problem = read_source(raw_dir, SOURCES[key])
            context.instance.report_runless_asset_event(source_observation(key, snap, problem))
            context.log.info(f"{key}: changed since it was last observed; observed now ({snap.data_version[:12]})")


@medimind_asset(
    "dataset not built",
    deps=["raw_mediqa_qa", "raw_medquad"],
    group_name="data",
    automation_condition=conditions.dataset_condition(),
    kinds={"json"},
    description="dataset.jsonl: cleaned, deduplicated, safety-labelled question-answer rows split by question.",
)
def dataset(
    context: dg.AssetExecutionContext, config: DatasetConfig, settings: MediMindSettings
) -> dg.MaterializeResult:
    raw_dir = settings.raw_path
    options = config.build_options()
    # First: a source requested but missing or empty fails here, before anything is built or written.
    versions = raw_data_versions(raw_dir, config.include_medquad)
    result = build_dataset(raw_dir, options)
    if raw_data_versions(raw_dir, config.include_medquad) != versions:
        # The rows may hold the new text; the lineage would name the old files.
        raise dg.Failure(
            description=f"raw files under {raw_dir} changed while the dataset was built: {settings.store.dataset} "
            "left unchanged; build it again once the files are still (the sources' sensor observes them)"
        )
    outcomes = validate_rows(result.rows, mediqa.test_questions(raw_dir / MEDIQA), config.min_rows)
    failed = [o for o in outcomes if not o.passed]
    path = settings.store.dataset
    if failed:
        # Keep the candidate for inspection; the published dataset.jsonl stays exactly as it was.
        rejected_path = path.with_name("dataset.rejected.jsonl")
        atomic_write_jsonl(rejected_path, result.rows)
        details = "; ".join(f"{o.name}: {o.count} problem(s), e.g. {o.problems[0]}" for o in failed)
        raise dg.Failure(
            description=f"dataset failed validation, {path} left unchanged ({details})",
            metadata={"rejected_candidate": dg.MetadataValue.path(str(rejected_path))},
        )
    write_dataset(path, result.rows)
    observe_unobserved(context, raw_dir, versions)
    digest = sha256_file(path)
    kept = settings.store.keep_dataset_version(digest)  # what lineage and retention point at
    context.log.info(f"wrote {len(result.rows)} rows to {path} (sha256 {digest[:12]})")
    sample = result.rows[:: max(1, len(result.rows) // 8)][:8]

    def table(rows: list[dict], columns: list[str], width: int = 90) -> dg.MetadataValue:
        return dg.MetadataValue.md(markdown_table(rows, columns, width=width))

    return dg.MaterializeResult(
        data_version=dg.DataVersion(digest),
        metadata={
            "dagster/row_count": len(result.rows),
            "path": dg.MetadataValue.path(str(path)),
            "sha256": digest,
            "versioned_path": dg.MetadataValue.path(str(kept)),
            **{f"rows/source/{k}": v for k, v in result.count_by("source").items()},
            **{f"rows/split/{k}": v for k, v in result.count_by("split").items()},
            **{f"rows/safety/{k}": v for k, v in result.count_by("safety_level").items()},
            **{f"rejected/{k}": v for k, v in sorted(result.rejected.items())},
            "rejected_total": sum(result.rejected.values()),
            **{f"repaired/{k}": v for k, v in sorted(result.repaired.items())},
            "truncated_answers": result.truncated,
            "collections": dg.MetadataValue.md(collections_table(result.collections)),
            "collection_counts": dg.MetadataValue.json(
                {name: dict(sorted(counts.items())) for name, counts in sorted(result.collections.items())}
            ),
            "repaired_sample": table(
                result.repair_samples,
                ["collection", "repair", "question_before", "question", "answer_before", "answer"],
            ),
            "rejected_sample": table(result.rejection_samples, ["collection", "reason", "question", "answer"]),
            "recurring_text": table(result.recurring, ["collection", "answers", "share", "removed", "text"]),
            "raw_data_versions": dg.MetadataValue.json(versions),
            "build_options": dg.MetadataValue.json(config.model_dump(mode="json")),
            "sample": table(sample, ["split", "source", "safety_level", "instruction", "response"], width=70),
        },
    )


def collections_table(collections: dict[str, Counter]) -> str:
    """One line per collection: files, pairs, rows kept, then every rejection and repair reason that occurred
    (a pandas frame, as the evaluation's per-question results)."""
    import pandas as pd

    frame = pd.DataFrame.from_dict({name: dict(counts) for name, counts in collections.items()}, orient="index")
    reasons = sorted(column for column in frame.columns if "/" in column)
    frame = frame.reindex(columns=["files", "pairs", "rows", *reasons]).fillna(0).astype(int).sort_index()
    return frame.rename_axis("collection").reset_index().to_markdown(index=False)

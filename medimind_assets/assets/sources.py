"""Raw sources: MEDIQA 2019 Task 3 and MedQuAD under MEDIMIND_RAW_DIR, observed, never materialized.

Observing a source hashes its files: its data version is their content hash, so the same bytes read again are never
a change downstream. A source absent from the raw directory is downloaded from its pinned upstream commit first
(docs/operations.md describes the metadata, the retries and the `medimind_raw_sources` sensor).
"""

import warnings
from pathlib import Path

import dagster as dg

from medimind_assets.assets.common import OWNERS, markdown_table
from medimind_assets.data import sources
from medimind_assets.data.errors import DownloadError, RawDataError
from medimind_assets.lineage import DATA_VERSION_TAG
from medimind_assets.resources import MediMindSettings

# Asset key -> the source's folder under MEDIMIND_RAW_DIR.
SOURCES = {"raw_mediqa_qa": sources.MEDIQA, "raw_medquad": sources.MEDQUAD}


def latest_observed_version(instance: dg.DagsterInstance, key: str) -> str | None:
    records = instance.fetch_observations(dg.AssetKey(key), limit=1).records
    observation = records[0].asset_observation if records else None
    return (observation.tags or {}).get(DATA_VERSION_TAG) if observation else None


def read_source(raw_dir: Path, name: str) -> tuple[sources.SourceSnapshot, str | None]:
    """The source's files hashed and counted; where some do not parse, hashed only, and what is wrong with them.

    Bytes that do not parse are still a new data version: the dataset build that reads them fails, naming the file.
    A source that is absent or lacks a required file raises `RawDataError`.
    """
    try:
        return sources.snapshot(raw_dir, name), None
    except RawDataError as exc:
        return sources.snapshot(raw_dir, name, counts=False), str(exc)


def source_metadata(snap: sources.SourceSnapshot, problem: str | None = None) -> dict[str, object]:
    """What an observation shows: where the files are, each file's sha256, the upstream commit, licence, citation."""
    file_rows = [
        {"file": f.path, "sha256": f.sha256, "bytes": f.size, "upstream": f.matches_upstream, **f.counts}
        for f in snap.files
    ]
    columns = ["file", "sha256", "bytes", "upstream", *sorted({k for f in snap.files for k in f.counts})]
    metadata: dict[str, object] = {
        "path": dg.MetadataValue.path(str(snap.root)),
        "data_version": snap.data_version,
        "file_count": len(snap.files),
        "files_matching_upstream": sum(f.matches_upstream for f in snap.files),
        "downloaded": snap.downloaded,
        **{f"total/{key}": value for key, value in snap.totals.items()},
        "files": dg.MetadataValue.md(markdown_table(file_rows[:200], columns, width=64)),
        "file_sha256": dg.MetadataValue.json({f.path: f.sha256 for f in snap.files}),
    }
    # Our sample in the upstream layout: named as ours, not as the upstream dataset.
    if own := sources.own_sample(snap.root.parent):
        metadata |= {"origin": own, "license": "Apache-2.0 (this project's own text)"}
    else:
        upstream = sources.upstream_manifest()[snap.name]
        metadata |= {
            "origin": "upstream",
            "upstream_repository": dg.MetadataValue.url(upstream["repository"]),
            "upstream_commit": upstream["commit"],
            "license": upstream["license"],
            "citation": upstream["citation"],
        }
    if problem:
        metadata["unreadable_files"] = dg.MetadataValue.md(f"```\n{problem}\n```")
    return metadata


def source_observation(key: str, snap: sources.SourceSnapshot, problem: str | None = None) -> dg.AssetObservation:
    """The observation a sensor reports without a run: the same data version and metadata as an observation run."""
    return dg.AssetObservation(
        asset_key=key, metadata=source_metadata(snap, problem), tags={DATA_VERSION_TAG: snap.data_version}
    )


def observe_source(context: dg.AssetExecutionContext, settings: MediMindSettings, key: str) -> dg.ObserveResult:
    name = SOURCES[key]
    downloaded = not sources.is_present(settings.raw_path, name)
    if downloaded:  # the pinned files of a source that is not under the raw directory
        try:
            sources.ensure(settings.raw_path, name, settings.source_urls.get(name))
        except DownloadError as exc:  # only a transient failure is retried within the run
            context.log.error(str(exc))
            if not exc.retryable or settings.download_retries <= 0:
                raise
            raise dg.RetryRequested(
                max_retries=settings.download_retries, seconds_to_wait=settings.download_retry_wait_seconds
            ) from exc
    snap, problem = read_source(settings.raw_path, name)
    snap.downloaded = downloaded
    context.log.info(
        f"{key}: {len(snap.files)} files under {snap.root} ({'downloaded' if downloaded else 'present'}), "
        f"data version {snap.data_version[:12]}"
    )
    if problem:
        context.log.warning(f"{key}: files that do not parse (the dataset build will refuse them):\n{problem}")
    return dg.ObserveResult(
        asset_key=key, data_version=dg.DataVersion(snap.data_version), metadata=source_metadata(snap, problem)
    )


def _source_asset(key: str, description: str) -> dg.AssetsDefinition:
    spec = dg.AssetSpec(
        key, group_name="sources", kinds={"xml"}, owners=OWNERS, code_version="1", description=description
    )
    # Observable assets are a beta API in Dagster 1.13; the warning would print on every load of the code location.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)

        @dg.multi_observable_source_asset(name=key, specs=[spec])
        def observe(context: dg.AssetExecutionContext, settings: MediMindSettings) -> dg.ObserveResult:
            return observe_source(context, settings, key)

    return observe


raw_mediqa_qa = _source_asset(
    "raw_mediqa_qa", "MEDIQA 2019 Task 3 question answering: consumer questions with judged candidate answers."
)
raw_medquad = _source_asset(
    "raw_medquad", "MedQuAD: question-answer pairs from NIH websites (collections 10-12 have no answers upstream)."
)

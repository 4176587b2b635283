"""Raw sources: MEDIQA 2019 Task 3 and MedQuAD, as present under MEDIMIND_RAW_DIR or downloaded (pinned, verified).

Their data version is the content hash of their files, so re-reading the same bytes is never a change downstream.
"""

import dagster as dg
from pydantic import Field

from medimind_assets import automation
from medimind_assets.assets.common import OWNERS, markdown_table
from medimind_assets.data import sources
from medimind_assets.data.errors import DownloadError
from medimind_assets.resources import MediMindSettings


class SourceConfig(dg.Config):
    # A failed download is worth retrying (the network comes back); malformed files are not, so only downloads retry.
    download_retries: int = Field(3, description="Retries of a failed download of the pinned upstream files.")
    retry_wait_seconds: int = Field(30, description="Seconds between download retries.")


def _materialize(
    context: dg.AssetExecutionContext, config: SourceConfig, settings: MediMindSettings, name: str
) -> dg.MaterializeResult:
    try:
        snap = sources.ensure(settings.raw_path, name)
    except DownloadError as exc:
        context.log.error(str(exc))
        if config.download_retries <= 0:
            raise
        raise dg.RetryRequested(max_retries=config.download_retries, seconds_to_wait=config.retry_wait_seconds) from exc
    upstream = sources.upstream_manifest()[name]
    context.log.info(
        f"{name}: {len(snap.files)} files under {snap.root} ({'downloaded' if snap.downloaded else 'present'}), "
        f"data version {snap.data_version[:12]}"
    )
    file_rows = [
        {"file": f.path, "sha256": f.sha256, "bytes": f.size, "upstream": f.matches_upstream, **f.counts}
        for f in snap.files
    ]
    columns = ["file", "sha256", "bytes", "upstream", *sorted({k for f in snap.files for k in f.counts})]
    return dg.MaterializeResult(
        data_version=dg.DataVersion(snap.data_version),
        metadata={
            "path": dg.MetadataValue.path(str(snap.root)),
            "data_version": snap.data_version,
            "file_count": len(snap.files),
            "files_matching_upstream": sum(f.matches_upstream for f in snap.files),
            "downloaded": snap.downloaded,
            **{f"total/{key}": value for key, value in snap.totals.items()},
            "files": dg.MetadataValue.md(markdown_table(file_rows[:200], columns, width=64)),
            "file_sha256": dg.MetadataValue.json({f.path: f.sha256 for f in snap.files}),
            "upstream_repository": dg.MetadataValue.url(upstream["repository"]),
            "upstream_commit": upstream["commit"],
            "license": upstream["license"],
            "citation": upstream["citation"],
        },
    )


@dg.asset(
    group_name="sources",
    automation_condition=automation.source_condition(),
    kinds={"xml"},
    owners=OWNERS,
    code_version="1",
    description="MEDIQA 2019 Task 3 question answering: consumer questions with judged candidate answers.",
)
def raw_mediqa_qa(
    context: dg.AssetExecutionContext, config: SourceConfig, settings: MediMindSettings
) -> dg.MaterializeResult:
    return _materialize(context, config, settings, sources.MEDIQA)


@dg.asset(
    group_name="sources",
    automation_condition=automation.source_condition(),
    kinds={"xml"},
    owners=OWNERS,
    code_version="1",
    description="MedQuAD: question-answer pairs from NIH websites (collections 10-12 have no answers upstream).",
)
def raw_medquad(
    context: dg.AssetExecutionContext, config: SourceConfig, settings: MediMindSettings
) -> dg.MaterializeResult:
    return _materialize(context, config, settings, sources.MEDQUAD)

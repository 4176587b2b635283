"""The `settings` resource: where raw data and artefacts live, and which base model to use.

Built from the deployment settings (`medimind_assets/config.py`, the one place the environment is read) when
the definitions load.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from medimind_assets.config import Deployment
from medimind_assets.instance import temporary_instance_warning
from medimind_assets.run_health import tag_run_host
from medimind_assets.store import DEFAULT_DATA_DIR, ArtifactStore


class MediMindSettings(dg.ConfigurableResource):
    """Paths and the base model, from MEDIMIND_RAW_DIR, MEDIMIND_DATA_DIR and MEDIMIND_BASE_MODEL; how often an
    observation retries a failed download of the pinned raw files (a malformed file is never retried)."""

    raw_dir: str = "data/raw"
    data_dir: str = DEFAULT_DATA_DIR
    base_model: str = "microsoft/phi-2"
    download_retries: int = 3
    download_retry_wait_seconds: int = 30
    # Raw files must have been still this long before the sensor observes them (a collection being copied in).
    source_settle_seconds: int = 60
    # Finished adapters kept besides the promoted and the newest one (with their evaluations, merges and datasets).
    keep_adapters: int = 3

    # Download base URLs of the raw sources, by source folder, overriding the pinned upstream commits.
    source_urls: dict[str, str] = {}

    @classmethod
    def from_deployment(cls, deployment: Deployment) -> MediMindSettings:
        same = ("raw_dir", "data_dir", "base_model", "keep_adapters", "source_settle_seconds")
        return cls(**{name: getattr(deployment, name) for name in same}, source_urls=dict(deployment.source_urls))

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Every step that uses the settings says so when its run lands in a temporary instance (a `dg launch` or
        `dagster` command without DAGSTER_HOME): nothing of it will show in the web UI or lineage. The run is tagged
        with the machine it runs on (`run_health.RUN_HOST_TAG`)."""
        instance = context.instance
        if instance is not None and instance.is_ephemeral and context.log is not None:
            context.log.warning(temporary_instance_warning())
        elif instance is not None and not instance.is_ephemeral and context.run_id:
            tag_run_host(instance, context.run_id)

    @property
    def raw_path(self) -> Path:
        return Path(self.raw_dir).expanduser().resolve()

    @property
    def store(self) -> ArtifactStore:
        """The data folder: its layout and its pointers (medimind_assets.store)."""
        return ArtifactStore.at(self.data_dir)

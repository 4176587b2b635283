"""When assets update on their own.

- Raw sources are observed, never materialized: the `medimind_raw_sources` sensor hashes their files every
  MEDIMIND_SOURCE_CHECK_SECONDS (default 300) and, only when the content hash differs from the last observed data
  version, reports an observation with the new version, without a run. Unchanged bytes start nothing at all. A
  source whose files are missing gets an observation run instead, which downloads the pinned files (at most one try
  an hour).
- `dataset` is rebuilt when a raw source's data version changed since the dataset was last requested or built, and
  only then (a `medimind_pipeline` run that observed and built it leaves nothing to do); on the first evaluation it
  is also built when it is missing. Either way, only once both sources have been observed.
- `base_model` is resolved when it is missing.
- `lora_adapter` trains in a training window (cron, default nightly) when the dataset's (or the base model's) data
  version changed since the adapter last ran, after the dataset's blocking checks passed. Its data version is the
  training fingerprint, and a fingerprint already trained is reused, never trained twice.
- `evaluation` follows each new adapter version; `merged_model` follows a new evaluation (a promotion) only when
  MEDIMIND_AUTO_MERGE is set. Like the dataset, neither is requested again after a run that already rebuilt it.
"""

import datetime
import os
from pathlib import Path

import dagster as dg

from medimind_assets.assets.sources import (
    DATA_VERSION_TAG,
    SOURCES,
    raw_mediqa_qa,
    raw_medquad,
    read_source,
    source_observation,
)
from medimind_assets.data import sources
from medimind_assets.data.errors import RawDataError
from medimind_assets.resources import MediMindSettings

SOURCE_CHECK_SECONDS = int(os.environ.get("MEDIMIND_SOURCE_CHECK_SECONDS", "300"))
TRAINING_CRON = os.environ.get("MEDIMIND_TRAINING_CRON", "0 2 * * *")
AUTO_MERGE = os.environ.get("MEDIMIND_AUTO_MERGE", "").lower() in {"1", "true", "yes"}

AC = dg.AutomationCondition


def _data_changed(*deps: str) -> AC:
    """True when any of `deps` got a new data version on this tick (a byte-identical rebuild is not a change)."""
    return AC.any_deps_match(AC.data_version_changed()).allow(dg.AssetSelection.assets(*deps))


def _not_busy() -> AC:
    return ~AC.in_progress() & ~AC.any_deps_in_progress()


def _handled() -> AC:
    """Requested or updated: `changed.since(_handled())` stays false after a run (say a manual one, between two
    ticks) that both produced the new input and rebuilt the asset from it."""
    return AC.newly_requested() | AC.newly_updated()


def dataset_condition() -> AC:
    # A run that observed the sources and built the dataset between two ticks leaves the latch reset.
    changed = _data_changed("raw_mediqa_qa", "raw_medquad").since(_handled())
    # A first evaluation that finds the sources already observed would otherwise never see them change.
    first_build = AC.initial_evaluation() & AC.missing()
    # Never built from a source that has not been observed yet (its download still to come).
    return ((changed | first_build) & ~AC.any_deps_missing() & _not_busy()).with_label("raw data changed")


def base_model_condition() -> AC:
    return AC.on_missing()


def adapter_condition(cron: str = TRAINING_CRON) -> AC:
    # "The inputs changed since this adapter was last requested or trained", latched until the window opens.
    dataset_changed = _data_changed("dataset", "base_model").since(_handled())
    return (
        AC.cron_tick_passed(cron) & dataset_changed & AC.all_deps_blocking_checks_passed() & _not_busy()
    ).with_label(f"dataset changed; train in window {cron}")


def evaluation_condition() -> AC:
    return (_data_changed("lora_adapter").since(_handled()) & _not_busy()).with_label("new adapter")


def merge_condition() -> AC | None:
    promoted = _data_changed("evaluation").since(_handled())
    return (promoted & _not_busy()).with_label("new promotion") if AUTO_MERGE else None


def latest_observed_version(instance: dg.DagsterInstance, key: str) -> str | None:
    records = instance.fetch_observations(dg.AssetKey(key), limit=1).records
    observation = records[0].asset_observation if records else None
    return (observation.tags or {}).get(DATA_VERSION_TAG) if observation else None


def check_sources(
    instance: dg.DagsterInstance, raw_dir: Path, now: datetime.datetime, settle_seconds: float = 0.0
) -> tuple[list[dg.AssetObservation], list[dg.RunRequest], list[str]]:
    """Observations of the sources whose content changed, observation runs for those whose files are missing (they
    download), and the problems of sources that cannot be read at all. A source whose files changed less than
    `settle_seconds` ago is left for a later tick: a collection being copied in is never observed half-copied."""
    observations, downloads, problems = [], [], []
    for key, name in SOURCES.items():
        if not sources.is_present(raw_dir, name):
            run_key = f"{key}/download/{now:%Y-%m-%dT%H}"  # one download attempt an hour while the files are missing
            downloads.append(dg.RunRequest(asset_selection=[dg.AssetKey(key)], run_key=run_key))
            continue
        age = now.timestamp() - sources.newest_change(raw_dir, name)
        if settle_seconds > 0 and age < settle_seconds:
            problems.append(
                f"{key}: files changed {age:.0f} s ago; observed once they are still for {settle_seconds:.0f} s"
            )
            continue
        try:
            version = sources.snapshot(raw_dir, name, counts=False).data_version  # hashing only: cheap
            if version != latest_observed_version(instance, key):
                observations.append(source_observation(key, *read_source(raw_dir, name)))
        except RawDataError as exc:
            problems.append(f"{key}: {exc}")
    return observations, downloads, problems


@dg.sensor(
    name="medimind_raw_sources",
    target=[raw_mediqa_qa, raw_medquad],
    minimum_interval_seconds=SOURCE_CHECK_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Observes the raw sources without a run: reports a new data version only when their bytes changed; "
    "starts an observation run (a download) only for a source whose files are missing.",
)
def raw_sources_sensor(
    context: dg.SensorEvaluationContext, settings: MediMindSettings
) -> dg.SensorResult | dg.SkipReason:
    now = datetime.datetime.now(datetime.timezone.utc)
    observations, downloads, problems = check_sources(
        context.instance, settings.raw_path, now, settings.source_settle_seconds
    )
    for problem in problems:
        context.log.warning(problem) if "still for" in problem else context.log.error(problem)
    if not observations and not downloads:
        return dg.SkipReason("; ".join(problems) or "the raw files are unchanged")
    return dg.SensorResult(asset_events=observations, run_requests=downloads)


automation_sensor = dg.AutomationConditionSensorDefinition(
    "medimind_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Evaluates the automation conditions of every MediMind asset.",
)


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, description="Logs every failed run.")
def log_failed_runs(context: dg.RunFailureSensorContext) -> None:
    failures = [e.message for e in context.get_step_failure_events()] or [context.failure_event.message]
    context.log.error(
        f"run {context.dagster_run.run_id} ({context.dagster_run.job_name}) failed: " + " | ".join(failures)
    )

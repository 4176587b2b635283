"""The sensors (docs/operations.md, "Automation"), each described where it is declared: `medimind_raw_sources`,
`medimind_automation` (the conditions of `conditions.py`), `log_failed_runs` and `medimind_dead_runs` (run_health.py).
"""

import datetime
from pathlib import Path

import dagster as dg

from medimind_assets.assets.sources import (
    SOURCES,
    latest_observed_version,
    raw_mediqa_qa,
    raw_medquad,
    read_source,
    source_observation,
)
from medimind_assets.data import sources
from medimind_assets.data.errors import RawDataError
from medimind_assets.digests import combined_hash, file_digests
from medimind_assets.errors import MediMindError
from medimind_assets.integrity import verify_adapter
from medimind_assets.resources import MediMindSettings
from medimind_assets.run_health import fail_dead_runs, uses_local_launcher
from medimind_assets.store import ArtifactStore

DEAD_RUNS_CHECK_SECONDS = 60


def check_sources(
    instance: dg.DagsterInstance, raw_dir: Path, now: datetime.datetime, settle_seconds: float = 0.0
) -> tuple[list[dg.AssetObservation], list[dg.RunRequest], list[str]]:
    """Observations of the sources whose content changed, observation runs for those whose files are missing (they
    download), and the problems of sources that cannot be read at all. A source whose files changed less than
    `settle_seconds` ago is left for a later tick: a collection being copied in is never observed half-copied."""
    observations, downloads, problems = [], [], []
    for key, name in SOURCES.items():
        try:
            if not sources.is_present(raw_dir, name):
                run_key = f"{key}/download/{now:%Y-%m-%dT%H}"  # one download attempt an hour while files are missing
                downloads.append(dg.RunRequest(asset_selection=[dg.AssetKey(key)], run_key=run_key))
                continue
            age = now.timestamp() - sources.newest_change(raw_dir, name)
            # A file dated ahead (a clock ahead, `cp -p` from such a host) is observed: waiting for it to be still
            # would wait until that date.
            if settle_seconds > 0 and 0 <= age < settle_seconds:
                problems.append(
                    f"{key}: files changed {age:.0f} s ago; observed once they are still for {settle_seconds:.0f} s"
                )
                continue
            version = sources.snapshot(raw_dir, name, counts=False).data_version  # hashing only: cheap
            if version != latest_observed_version(instance, key):
                observations.append(source_observation(key, *read_source(raw_dir, name)))
        except RawDataError as exc:
            problems.append(f"{key}: {exc}")
    return observations, downloads, problems


# Rebuilt by the sensor when the data folder lost them (a wiped or new volume under a kept instance): the instance
# records them as materialized and no input changed, so no automation condition would ever rebuild them.
REBUILT_WHEN_GONE = {"dataset": "dataset", "base_model": "base_model_pointer"}


def missing_artefacts(
    instance: dg.DagsterInstance, store: ArtifactStore, now: datetime.datetime
) -> list[dg.RunRequest]:
    """A run for each asset of REBUILT_WHEN_GONE that was materialized but whose file is gone, one an hour at most.
    What comes after them (an adapter) is not: its status line says what to materialize."""
    requests = []
    for key, where in REBUILT_WHEN_GONE.items():
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        # Written by a run of this pipeline (a runless report, another system's record, wrote no file here).
        if event is not None and event.run_id and not getattr(store, where).exists():
            run_key = f"{key}/missing/{now:%Y-%m-%dT%H}"
            requests.append(dg.RunRequest(asset_selection=[dg.AssetKey(key)], run_key=run_key))
    return requests


def retrained_promotion(store: ArtifactStore) -> dg.RunRequest | None:
    """An evaluation run when the promoted adapter was trained again in place (its folder failed verification and
    the same fingerprint was retrained): intact, still the latest, but not the bytes the gate passed. Serving refuses
    it until it is evaluated again, and no input of `evaluation` changed. One run per new content."""
    try:
        record, latest = store.read_promoted(), store.read_latest()
        evaluated = (record or {}).get("adapter_files")
        if not record or not latest or latest.get("fingerprint") != record.get("fingerprint"):
            return None
        adapter_dir = Path(record["path"])
        if not isinstance(evaluated, dict) or not evaluated or not verify_adapter(adapter_dir):
            return None
        current = file_digests(adapter_dir, list(evaluated))
    except (MediMindError, OSError):
        return None  # unreadable or damaged: the status report names it; nothing to evaluate yet
    if current == evaluated:
        return None
    run_key = f"evaluation/retrained/{record['fingerprint'][:12]}/{combined_hash(current)[:12]}"
    return dg.RunRequest(asset_selection=[dg.AssetKey("evaluation")], run_key=run_key)


def raw_sources_sensor_every(seconds: int) -> dg.SensorDefinition:
    """`medimind_raw_sources`, checking every `seconds` (MEDIMIND_SOURCE_CHECK_SECONDS)."""
    return dg.sensor(
        name="medimind_raw_sources",
        target=dg.AssetSelection.assets(raw_mediqa_qa, raw_medquad, "evaluation", *REBUILT_WHEN_GONE),
        minimum_interval_seconds=seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Observes the raw sources without a run: reports a new data version only when their bytes "
        "changed; starts an observation run (a download) only for a source whose files are missing, and a run of "
        "the dataset or the base model when the data folder lost it, and an evaluation of a promoted adapter "
        "trained again in place.",
    )(check_raw_sources)


def check_raw_sources(
    context: dg.SensorEvaluationContext, settings: MediMindSettings
) -> dg.SensorResult | dg.SkipReason:
    now = datetime.datetime.now(datetime.timezone.utc)
    observations, downloads, problems = check_sources(
        context.instance, settings.raw_path, now, settings.source_settle_seconds
    )
    for problem in problems:  # files still arriving are normal (the skip reason says so too); anything else is not
        context.log.info(problem) if "still for" in problem else context.log.error(problem)
    if not downloads and not problems:  # rebuilt only from sources that are all there
        for request in missing_artefacts(context.instance, settings.store, now):
            context.log.warning(
                f"{request.asset_selection[0].to_user_string()} is gone from {settings.store.root}: rebuilt"
            )
            downloads.append(request)
    if (request := retrained_promotion(settings.store)) is not None:
        context.log.warning("the promoted adapter was trained again in place: evaluating it again")
        downloads.append(request)
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
    failures = [_why(e) for e in context.get_step_failure_events()] or [context.failure_event.message]
    context.log.error(
        f"run {context.dagster_run.run_id} ({context.dagster_run.job_name}) failed: " + " | ".join(failures)
    )


def _why(event: dg.DagsterEvent) -> str:
    """A step's failure in a line: the step, and the reason it gave or the error it raised (not "Execution of step
    ... failed", which says neither)."""
    data = event.step_failure_data
    user = data.user_failure_data if data else None
    error = data.error if data else None
    while error is not None and error.cause is not None:  # Dagster wraps the asset's own error
        error = error.cause
    reason = (user.description if user else None) or (error.message.strip() if error else "")
    return f"{event.step_key}: {reason.splitlines()[0] if reason else event.message}"


raw_sources_sensor = raw_sources_sensor_every(300)  # the default; the definitions build it from the settings


@dg.sensor(
    name="medimind_dead_runs",
    minimum_interval_seconds=DEAD_RUNS_CHECK_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Fails runs whose process died without reporting (local run launcher) and frees their gpu slot.",
)
def dead_runs_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    if not uses_local_launcher(context.instance):
        return dg.SkipReason("the run launcher checks its workers' health itself")
    failed = fail_dead_runs(context.instance)
    for run_id in failed:
        context.log.warning(f"run {run_id}: its process died; marked failed and its gpu slot freed")
    return dg.SkipReason(f"{len(failed)} dead run(s) failed" if failed else "every started run has a live process")

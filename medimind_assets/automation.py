"""When assets update on their own.

- Raw sources are re-read on a cron (default hourly). Their data version is their content hash, so a re-read of
  the same bytes changes nothing downstream.
- `dataset` is rebuilt when a raw source's data version changed, and only then.
- `base_model` is resolved when it is missing.
- `lora_adapter` trains in a training window (cron, default nightly) when the dataset's (or the base model's) data
  version changed since the adapter last ran, after the dataset's blocking checks passed. Its data version is the
  training fingerprint, and a fingerprint already trained is reused, never trained twice.
- `evaluation` follows each new adapter version; `merged_model` follows a new evaluation (a promotion) only when
  MEDIMIND_AUTO_MERGE is set.
"""

import os

import dagster as dg

SOURCE_CRON = os.environ.get("MEDIMIND_SOURCE_CRON", "0 * * * *")
TRAINING_CRON = os.environ.get("MEDIMIND_TRAINING_CRON", "0 2 * * *")
AUTO_MERGE = os.environ.get("MEDIMIND_AUTO_MERGE", "").lower() in {"1", "true", "yes"}

AC = dg.AutomationCondition


def _data_changed(*deps: str) -> AC:
    """True when any of `deps` got a new data version on this tick (a byte-identical rebuild is not a change)."""
    return AC.any_deps_match(AC.data_version_changed()).allow(dg.AssetSelection.assets(*deps))


def _not_busy() -> AC:
    return ~AC.in_progress() & ~AC.any_deps_in_progress()


def source_condition(cron: str = SOURCE_CRON) -> AC:
    return (AC.cron_tick_passed(cron) & ~AC.in_progress()).with_label(f"re-read sources on {cron}")


def dataset_condition() -> AC:
    return (_data_changed("raw_mediqa_qa", "raw_medquad") & _not_busy()).with_label("raw data changed")


def base_model_condition() -> AC:
    return AC.on_missing()


def adapter_condition(cron: str = TRAINING_CRON) -> AC:
    # "The inputs changed since this adapter was last requested or trained", latched until the window opens.
    dataset_changed = _data_changed("dataset", "base_model").since(AC.newly_requested() | AC.newly_updated())
    return (
        AC.cron_tick_passed(cron) & dataset_changed & AC.all_deps_blocking_checks_passed() & _not_busy()
    ).with_label(f"dataset changed; train in window {cron}")


def evaluation_condition() -> AC:
    return (_data_changed("lora_adapter") & _not_busy()).with_label("new adapter")


def merge_condition() -> AC | None:
    return (_data_changed("evaluation") & _not_busy()).with_label("new promotion") if AUTO_MERGE else None


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

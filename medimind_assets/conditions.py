"""When assets update on their own: the automation condition of each asset (the sensors: `sensors.py`).

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

import dagster as dg

from medimind_assets.config import DEFAULT_TRAINING_CRON

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


def adapter_condition(cron: str = DEFAULT_TRAINING_CRON) -> AC:
    # "The inputs changed since this adapter was last requested or trained", latched until the window opens.
    dataset_changed = _data_changed("dataset", "base_model").since(_handled())
    return (
        AC.cron_tick_passed(cron) & dataset_changed & AC.all_deps_blocking_checks_passed() & _not_busy()
    ).with_label(f"dataset changed; train in window {cron}")


def evaluation_condition() -> AC:
    return (_data_changed("lora_adapter").since(_handled()) & _not_busy()).with_label("new adapter")


def merge_condition(auto_merge: bool = False) -> AC | None:
    """None (materialized by hand only) unless automatic merging is on (MEDIMIND_AUTO_MERGE)."""
    promoted = _data_changed("evaluation").since(_handled())
    return (promoted & _not_busy()).with_label("new promotion") if auto_merge else None

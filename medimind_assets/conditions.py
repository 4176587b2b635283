"""When assets update on their own: the automation condition of each asset (what each one waits for: the table in
docs/operations.md, "Automation"; the sensors: `sensors.py`). An input change is latched `since` the asset was last
requested or updated, so a run that already rebuilt the asset (a manual `medimind_pipeline`) leaves nothing to do.
"""

import dagster as dg

from medimind_assets.config import DEFAULT_TRAINING_CRON

AC = dg.AutomationCondition


def _changed(*deps: str, long_runs: bool = False) -> AC:
    """Any of `deps` got a new data version (a byte-identical rebuild is not a change) since this asset was last
    requested or updated: stays false after a run (say a manual one, between two ticks) that both produced the new
    input and rebuilt the asset from it. An update does not clear a change made by another run while this asset's
    run was in progress: that run read the input before it changed (a dataset rebuilt during a training). With
    `long_runs`, a change first seen on the tick that sees the run finished counts too (made in its last seconds);
    a change made between two ticks just after such a run then costs one more request, which reuses its result."""

    def in_deps(condition: AC) -> AC:
        return AC.any_deps_match(condition).allow(dg.AssetSelection.assets(*deps))

    by_another_run = in_deps(AC.data_version_changed() & ~AC.executed_with_root_target())
    during_run = AC.in_progress() | AC.newly_updated() if long_runs else AC.in_progress()
    unseen_by_run = (during_run & by_another_run).since(AC.newly_requested()).with_label("changed during run")
    reset = AC.newly_requested() | (AC.newly_updated() & ~unseen_by_run)
    return in_deps(AC.data_version_changed()).since(reset)


def _not_busy() -> AC:
    return ~AC.in_progress() & ~AC.any_deps_in_progress()


def dataset_condition() -> AC:
    # A run that observed the sources and built the dataset between two ticks leaves the latch reset.
    changed = _changed("raw_mediqa_qa", "raw_medquad")
    # A first evaluation that finds the sources already observed would otherwise never see them change.
    first_build = AC.initial_evaluation() & AC.missing()
    # Never built from a source that has not been observed yet (its download still to come).
    return ((changed | first_build) & ~AC.any_deps_missing() & _not_busy()).with_label("raw data changed")


def base_model_condition() -> AC:
    # on_missing() alone fires only for an asset that goes missing after automation first looked: a fresh instance
    # would wait for a base model forever.
    return AC.on_missing() | (AC.initial_evaluation() & AC.missing() & ~AC.in_progress())


def _window(cron: str) -> AC:
    """The window's tick, held open while this asset or an input is busy at it (a dataset build across 02:00 is
    trained on when it ends, that night), until the first evaluation after the one that found nothing busy."""
    tick = AC.cron_tick_passed(cron)
    busy = ~_not_busy()
    closes = AC.newly_requested() | (~busy & ~AC.newly_true(~busy) & ~tick)
    return (tick | (tick & busy).since(closes)).with_label(f"training window {cron}")


def adapter_condition(cron: str = DEFAULT_TRAINING_CRON) -> AC:
    # "The inputs changed since this adapter was last requested or trained", latched until the window opens.
    changed = _changed("dataset", "base_model", long_runs=True)
    # A training that failed (out of memory, a killed child) is tried again in the next window, not forgotten.
    retry = AC.execution_failed().with_label("last training failed")
    ready = AC.all_deps_blocking_checks_passed() & ~AC.any_deps_missing() & _not_busy()
    return (_window(cron) & (changed | retry) & ready).with_label(f"dataset changed; train in window {cron}")


def evaluation_condition(cron: str = DEFAULT_TRAINING_CRON) -> AC:
    # An evaluation that failed (out of memory) is tried again in the next training window, as a training is: not
    # at every tick, which a failure that repeats would turn into a loop.
    retry = (
        (AC.cron_tick_passed(cron) & AC.execution_failed())
        .since(AC.newly_requested())
        .with_label("last evaluation failed")
    )
    return ((_changed("lora_adapter") | retry) & ~AC.any_deps_missing() & _not_busy()).with_label("new adapter")


def merge_condition(auto_merge: bool = False) -> AC | None:
    """None (materialized by hand only) unless automatic merging is on (MEDIMIND_AUTO_MERGE)."""
    if not auto_merge:
        return None
    # evaluation's data version is the promoted fingerprint: a failed gate leaves it as it was.
    return (_changed("evaluation") & _not_busy()).with_label("new promotion")

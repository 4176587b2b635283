"""Automation, evaluated tick by tick on a temporary instance with real observations and materializations.

The raw sources are observed, never materialized: the `medimind_raw_sources` sensor reports a new data version,
without a run, only when their bytes changed. A changed raw file leads to dataset, then adapter (in the training
window), then evaluation; the same bytes read again start nothing at all; a second tick requests nothing.
"""

import datetime
import os
import shutil
import time
import warnings

import dagster as dg
import pytest

from medimind_assets import definitions, sensors
from medimind_assets.resources import MediMindSettings, SubprocessLauncher

START = datetime.datetime(2026, 11, 24, 0, 30, tzinfo=datetime.timezone.utc)  # nightly window opens at 02:00
SOURCES = ("raw_mediqa_qa", "raw_medquad")
KEYS = [*SOURCES, "dataset", "base_model", "lora_adapter", "evaluation", "merged_model"]
ALEXA = "mediqa2019_qa/MEDIQA_Task3_QA/MEDIQA2019-Task3-QA-TrainingSet2-Alexa.xml"


class Ticker:
    def __init__(self, tmp_path, raw):
        # The files were copied a moment ago: no settle time here (test_half_copied_sources_wait has one).
        self.settings = MediMindSettings(raw_dir=str(raw), data_dir=str(tmp_path / "out"), source_settle_seconds=0)
        self.defs = dg.Definitions(
            assets=definitions.ASSETS,
            asset_checks=[definitions.dataset_checks],
            resources={"settings": self.settings, "launcher": SubprocessLauncher()},
        )
        self.cursor = None
        self.now = START

    def tick(self, instance, minutes: int = 1) -> set[str]:
        """One evaluation of the automation conditions: the assets it would request."""
        self.now += datetime.timedelta(minutes=minutes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = dg.evaluate_automation_conditions(
                defs=self.defs, instance=instance, cursor=self.cursor, evaluation_time=self.now
            )
        self.cursor = result.cursor
        return {key for key in KEYS if result.get_num_requested(dg.AssetKey(key))}

    def sense(self, instance) -> dg.SensorResult | dg.SkipReason:
        """One tick of the source sensor; its observations are recorded without a run, as the daemon does."""
        context = dg.build_sensor_context(instance=instance, resources={"settings": self.settings})
        result = sensors.raw_sources_sensor(context)
        for event in getattr(result, "asset_events", []):
            instance.report_runless_asset_event(event)
        return result

    def materialize(self, instance, *keys: str) -> None:
        """A run of `keys`, observing the sources first when they are among them (as medimind_pipeline does); of
        the sources alone, an observation run (the UI's "Observe")."""
        assets = [self.defs.get_assets_def(k) for k in keys]
        checks = [definitions.dataset_checks] if "dataset" in keys else []
        result = dg.materialize(
            assets + checks,
            selection=dg.AssetSelection.assets(*keys),
            resources={"settings": self.settings},
            instance=instance,
        )
        assert result.success


def report(instance, key: str, version: str) -> None:
    """Record a materialization with a data version, as a finished training or evaluation run would."""
    instance.report_runless_asset_event(dg.AssetMaterialization(key, tags={"dagster/data_version": version}))


def trained(instance, version: str) -> None:
    """A training run that succeeded (a stand-in asset of the same key: no model is trained here)."""

    @dg.asset(name="lora_adapter")
    def stand_in() -> dg.MaterializeResult:
        return dg.MaterializeResult(data_version=dg.DataVersion(version))

    assert dg.materialize([stand_in], instance=instance).success


def next_window(ticker, instance, day: int) -> set[str]:
    """A tick just before the training window of night `day` (0: tonight), then what the tick at 02:00 requests."""
    ticker.now = START.replace(hour=1, minute=58) + datetime.timedelta(days=day)
    ticker.tick(instance)
    return ticker.tick(instance, minutes=2)


def observed(result: dg.SensorResult | dg.SkipReason) -> list[str]:
    return [event.asset_key.to_user_string() for event in getattr(result, "asset_events", [])]


@pytest.fixture
def ticker(tmp_path, sample_data):
    raw = tmp_path / "raw"
    shutil.copytree(sample_data, raw)
    return Ticker(tmp_path, raw)


def built_once(ticker, instance) -> None:
    """A medimind_pipeline-like run (observe both sources, build the dataset), then the models it led to (a training
    takes minutes: the scheduler ticks before it ends)."""
    ticker.materialize(instance, *SOURCES, "dataset")
    report(instance, "base_model", "tiny")
    ticker.tick(instance)
    report(instance, "lora_adapter", "fingerprint-1")
    report(instance, "evaluation", "fingerprint-1")


def test_sources_are_observed_never_scheduled_and_the_sensors_start_running():
    specs = {spec.key.to_user_string(): spec for spec in definitions.defs().resolve_all_asset_specs()}
    for key in SOURCES:
        assets_def = definitions.defs().get_assets_def(key)
        assert assets_def.is_observable and not assets_def.is_materializable
        assert specs[key].automation_condition is None
    by_name = {s.name: s for s in definitions.defs().sensors}
    assert not definitions.defs().schedules
    for sensor in ("medimind_raw_sources", "medimind_automation", "log_failed_runs"):
        assert by_name[sensor].default_status == dg.DefaultSensorStatus.RUNNING, sensor


def test_the_same_bytes_start_nothing_and_a_changed_file_rebuilds_the_dataset_once(ticker):
    alexa = ticker.settings.raw_path / ALEXA
    with dg.instance_for_test() as instance:
        ticker.tick(instance)
        built_once(ticker, instance)
        # The run that observed the sources and built the dataset leaves nothing to do (no second run after it).
        assert ticker.tick(instance) == set()
        runs = instance.get_runs_count()

        # The sensor re-reads the unchanged files: no observation, no run, nothing requested, tick after tick.
        assert isinstance(ticker.sense(instance), dg.SkipReason)
        assert ticker.tick(instance) == set()
        ticker.now = START.replace(hour=1, minute=58)  # hours later, across the training window
        assert isinstance(ticker.sense(instance), dg.SkipReason)
        assert ticker.tick(instance) == set()
        assert ticker.tick(instance, minutes=2) == set()
        assert instance.get_runs_count() == runs

        # Unchanged bytes observed again in a run (the UI's "Observe"): same data versions, nothing downstream.
        ticker.materialize(instance, *SOURCES)
        assert ticker.tick(instance) == set()

        # A real change to a raw file: the sensor reports it without a run, and the dataset alone is requested, once.
        alexa.write_bytes(alexa.read_bytes() + b"\n")  # a trailing newline: new bytes, same rows
        runs = instance.get_runs_count()
        result = ticker.sense(instance)
        assert observed(result) == ["raw_mediqa_qa"] and not result.run_requests
        assert instance.get_runs_count() == runs
        assert ticker.tick(instance) == {"dataset"}
        assert ticker.tick(instance) == set()
        assert isinstance(ticker.sense(instance), dg.SkipReason)  # that version is already observed
        ticker.materialize(instance, "dataset")  # byte-identical rows: the dataset's data version is unchanged
        assert ticker.tick(instance) == set()


def test_new_dataset_version_trains_in_the_window_once_then_evaluates(ticker):
    alexa = ticker.settings.raw_path / ALEXA
    with dg.instance_for_test() as instance:
        built_once(ticker, instance)
        ticker.tick(instance)
        ticker.tick(instance)

        # A changed answer: a new dataset version.
        alexa.write_bytes(alexa.read_bytes().replace(b"influenza", b"Influenza", 1))
        assert observed(ticker.sense(instance)) == ["raw_mediqa_qa"]
        assert ticker.tick(instance) == {"dataset"}
        ticker.materialize(instance, "dataset")
        assert ticker.tick(instance) == set()  # outside the training window: wait

        ticker.now = START.replace(hour=1, minute=58)
        assert ticker.tick(instance) == set()
        assert ticker.tick(instance, minutes=2) == {"lora_adapter"}  # 02:01, the window is open
        assert ticker.tick(instance) == set()  # a second tick in the same window

        report(instance, "lora_adapter", "fingerprint-2")
        assert ticker.tick(instance) == {"evaluation"}
        assert ticker.tick(instance) == set()
        # merged_model follows a promotion only when MEDIMIND_AUTO_MERGE is set (it is not here).
        report(instance, "evaluation", "fingerprint-2")
        assert ticker.tick(instance) == set()

        # Next night, nothing changed: nothing trains.
        ticker.now = START.replace(hour=1, minute=58) + datetime.timedelta(days=1)
        ticker.tick(instance)
        assert ticker.tick(instance, minutes=2) == set()


def test_a_failed_training_is_tried_again_in_the_next_window_only(ticker):
    alexa = ticker.settings.raw_path / ALEXA
    with dg.instance_for_test() as instance:
        built_once(ticker, instance)
        alexa.write_bytes(alexa.read_bytes().replace(b"influenza", b"Influenza", 1))
        ticker.sense(instance)
        ticker.tick(instance)
        ticker.materialize(instance, "dataset")
        ticker.now = START.replace(hour=2)
        assert ticker.tick(instance) == {"lora_adapter"}
        # The training fails (here: refused before launch; out of memory or a killed child alike).
        failed = dg.materialize(
            [ticker.defs.get_assets_def("lora_adapter")],
            resources={"settings": ticker.settings, "launcher": SubprocessLauncher()},
            run_config={"ops": {"lora_adapter": {"config": {"batch_size": 0}}}},
            instance=instance,
            raise_on_error=False,
        )
        assert not failed.success
        assert ticker.tick(instance) == set()  # not again and again within the night
        ticker.now = START.replace(hour=1, minute=58) + datetime.timedelta(days=1)
        assert ticker.tick(instance) == set()
        assert ticker.tick(instance, minutes=2) == {"lora_adapter"}  # the next window tries it again
        trained(instance, "fingerprint-2")
        ticker.now = START.replace(hour=1, minute=58) + datetime.timedelta(days=2)
        ticker.tick(instance)
        assert ticker.tick(instance, minutes=2) == set()  # trained: nothing the night after


def test_a_failed_evaluation_is_tried_again_in_the_next_window_only(ticker):
    with dg.instance_for_test() as instance:
        built_once(ticker, instance)
        ticker.tick(instance)
        report(instance, "lora_adapter", "fingerprint-2")
        assert ticker.tick(instance) == {"evaluation"}

        @dg.asset(name="evaluation", deps=["lora_adapter"])
        def failing() -> None:
            raise RuntimeError("CUDA out of memory")

        assert not dg.materialize([failing], instance=instance, raise_on_error=False).success
        assert ticker.tick(instance) == set()  # not at every tick
        assert next_window(ticker, instance, 0) == {"evaluation"}
        assert ticker.tick(instance) == set()


def training_run(ticker, instance, during, version: str, *with_keys) -> None:
    """A training run (a stand-in adapter of the same key) that takes hours: `during()` happens while it is in
    progress, between the scheduler's ticks. `with_keys` are real assets the same run builds first."""

    @dg.asset(name="lora_adapter", deps=["dataset", "base_model"])
    def stand_in() -> dg.MaterializeResult:
        during()
        return dg.MaterializeResult(data_version=dg.DataVersion(version))

    assets = [stand_in, *[definitions.defs().get_assets_def(k) for k in with_keys]]
    result = dg.materialize(
        assets,
        selection=dg.AssetSelection.assets("lora_adapter", *with_keys),
        instance=instance,
        resources={"settings": ticker.settings},
    )
    assert result.success


@pytest.mark.parametrize("last_seconds", [False, True])
def test_a_dataset_changed_during_a_training_is_trained_on_the_next_night(ticker, last_seconds):
    """The training read the dataset as it was when it started: a version published while it ran is trained on in
    the next window (the adapter's own update does not clear the change it never saw), also when it is published in
    the training's last seconds, so that no tick sees the training in progress after it: then the change is first
    seen with the adapter's update."""
    alexa = ticker.settings.raw_path / ALEXA
    with dg.instance_for_test() as instance:
        built_once(ticker, instance)
        ticker.tick(instance)
        alexa.write_bytes(alexa.read_bytes().replace(b"influenza", b"Influenza", 1))
        ticker.sense(instance)
        assert ticker.tick(instance) == {"dataset"}
        ticker.materialize(instance, "dataset")
        ticker.now = START.replace(hour=2)
        assert ticker.tick(instance) == {"lora_adapter"}

        def dataset_rebuilt_meanwhile():
            ticker.tick(instance)
            alexa.write_bytes(alexa.read_bytes().replace(b"Influenza", b"INFLUENZA", 1))
            ticker.sense(instance)
            if not last_seconds:
                assert ticker.tick(instance) == {"dataset"}  # the dataset does not wait for the training
            ticker.materialize(instance, "dataset")  # (in the last seconds: a build by hand, no tick after it)
            if not last_seconds:
                assert ticker.tick(instance) == set()  # the adapter is still training

        training_run(ticker, instance, dataset_rebuilt_meanwhile, "fingerprint-2")
        assert ticker.tick(instance) == {"evaluation"}
        report(instance, "evaluation", "fingerprint-2")
        assert next_window(ticker, instance, 1) == {"lora_adapter"}  # the version published during the training
        trained(instance, "fingerprint-3")
        assert next_window(ticker, instance, 2) == set()


@pytest.mark.parametrize("changed", [True, False])
def test_a_dataset_build_across_the_window_trains_when_it_ends_the_same_night(ticker, monkeypatch, changed):
    """The window's tick found the dataset still being built: the training waits for that build, not for the next
    night; a rebuild of the same bytes leaves nothing to train, and the window closes once nothing is busy."""
    from medimind_assets.assets import dataset as dataset_asset

    alexa = ticker.settings.raw_path / ALEXA
    with dg.instance_for_test() as instance:
        built_once(ticker, instance)
        ticker.tick(instance)
        if changed:
            alexa.write_bytes(alexa.read_bytes().replace(b"influenza", b"Influenza", 1))
        ticker.sense(instance)
        ticker.now = START.replace(hour=1, minute=50)
        ticker.tick(instance)
        build = dataset_asset.build_dataset

        def slow_build(*args, **kwargs):  # the build goes on past 02:00
            ticker.now = START.replace(hour=1, minute=59)
            assert ticker.tick(instance) == set()  # 02:00: the dataset is still being built
            assert ticker.tick(instance) == set()
            return build(*args, **kwargs)

        monkeypatch.setattr(dataset_asset, "build_dataset", slow_build)
        ticker.materialize(instance, "dataset")
        assert ticker.tick(instance) == ({"lora_adapter"} if changed else set())
        assert ticker.tick(instance) == set()
        if changed:
            trained(instance, "fingerprint-2")
            assert ticker.tick(instance) == {"evaluation"}
            report(instance, "evaluation", "fingerprint-2")
        assert ticker.tick(instance) == set()  # the window has closed
        assert ticker.tick(instance, minutes=60) == set()
        assert next_window(ticker, instance, 1) == set()


def test_a_run_that_builds_the_dataset_and_trains_on_it_leaves_nothing_for_the_night(ticker):
    """A manual pipeline run spanning many ticks: the dataset it built itself is the one it trained on."""
    alexa = ticker.settings.raw_path / ALEXA
    with dg.instance_for_test() as instance:
        built_once(ticker, instance)
        ticker.tick(instance)
        alexa.write_bytes(alexa.read_bytes().replace(b"influenza", b"Influenza", 1))

        def ticks_meanwhile():
            ticker.sense(instance)
            ticker.tick(instance)
            ticker.tick(instance)

        ticker.sense(instance)
        training_run(ticker, instance, ticks_meanwhile, "fingerprint-2", "dataset")
        ticker.tick(instance)
        assert next_window(ticker, instance, 0) == set()


def test_auto_merge_follows_promotions_not_evaluations(ticker):
    merged = definitions.build_definitions(definitions.Deployment.from_env({"MEDIMIND_AUTO_MERGE": "1"}))
    ticker.defs = dg.Definitions(
        assets=[ticker.defs.get_assets_def(k) for k in KEYS if k != "merged_model"]
        + [merged.get_assets_def("merged_model")],
        asset_checks=[definitions.dataset_checks],
        resources={"settings": ticker.settings, "launcher": SubprocessLauncher()},
    )
    with dg.instance_for_test() as instance:
        built_once(ticker, instance)
        report(instance, "evaluation", "promoted:fingerprint-1")
        ticker.tick(instance)
        assert ticker.tick(instance) == set()
        report(instance, "evaluation", "promoted:fingerprint-1")  # a failed gate: the promotion is unchanged
        assert ticker.tick(instance) == set()
        report(instance, "evaluation", "promoted:fingerprint-2")  # a new adapter promoted
        assert ticker.tick(instance) == {"merged_model"}


@pytest.mark.parametrize("sensor_first", [True, False])
def test_automation_alone_builds_the_dataset_on_a_fresh_instance(ticker, sensor_first):
    """Whichever sensor ticks first, the first observations lead to one dataset build, and the missing base model is
    resolved once (a fresh instance has nothing that could go missing later); no training waits on nothing."""
    with dg.instance_for_test() as instance:
        if not sensor_first:
            assert ticker.tick(instance) == {"base_model"}
        assert observed(ticker.sense(instance)) == list(SOURCES)
        assert ticker.tick(instance) == {"dataset"} | ({"base_model"} if sensor_first else set())
        assert ticker.tick(instance) == set()
        ticker.materialize(instance, "dataset")
        assert next_window(ticker, instance, 0) == set()  # the base model's run has not finished: nothing to train on
        report(instance, "base_model", "tiny")
        assert next_window(ticker, instance, 1) == {"lora_adapter"}


def test_the_dataset_waits_until_both_sources_are_observed(ticker, tmp_path):
    medquad = ticker.settings.raw_path / "medquad"
    shutil.move(medquad, tmp_path / "medquad-on-its-way")
    with dg.instance_for_test() as instance:
        ticker.tick(instance)
        result = ticker.sense(instance)
        assert observed(result) == ["raw_mediqa_qa"]
        assert [r.asset_selection for r in result.run_requests] == [[dg.AssetKey("raw_medquad")]]  # a download
        assert ticker.tick(instance) == set()
        shutil.move(tmp_path / "medquad-on-its-way", medquad)  # the download arrived
        assert observed(ticker.sense(instance)) == ["raw_medquad"]
        assert ticker.tick(instance) == {"dataset"}
        assert ticker.tick(instance) == set()


def test_missing_sources_get_an_observation_run_that_downloads_once_an_hour(tmp_path):
    now = START
    with dg.instance_for_test() as instance:
        observations, downloads, problems = sensors.check_sources(instance, tmp_path / "empty", now)
        assert observations == [] and problems == []
        assert [r.asset_selection for r in downloads] == [[dg.AssetKey(k)] for k in SOURCES]
        _, again, _ = sensors.check_sources(instance, tmp_path / "empty", now + datetime.timedelta(minutes=5))
        _, next_hour, _ = sensors.check_sources(instance, tmp_path / "empty", now + datetime.timedelta(hours=1))
    assert [r.run_key for r in again] == [r.run_key for r in downloads]  # deduplicated by the daemon
    assert not {r.run_key for r in next_hour} & {r.run_key for r in downloads}
    # The sensor may only request assets it targets, and a run of a source observes it (downloading it first).
    job = definitions.defs().resolve_implicit_global_asset_job_def()
    assert {dg.AssetKey(k) for k in SOURCES} <= set(job.asset_layer.selected_asset_keys)


def test_a_wiped_data_folder_under_a_kept_instance_gets_its_dataset_and_base_model_back(ticker):
    """The instance still records both as materialized and no source changed: no condition would rebuild them."""
    ticker.settings = MediMindSettings(**{**ticker.settings.model_dump(), "base_model": "tiny-phi"})  # built here
    with dg.instance_for_test() as instance:
        ticker.sense(instance)
        ticker.materialize(instance, "dataset", "base_model")
        assert not isinstance(ticker.sense(instance), dg.SensorResult)  # all there: nothing to do
        shutil.rmtree(ticker.settings.store.root)
        result = ticker.sense(instance)
        assert sorted(r.asset_selection[0].to_user_string() for r in result.run_requests) == ["base_model", "dataset"]
        assert all("/missing/" in r.run_key for r in result.run_requests)  # one attempt an hour (the hour's key)
        ticker.materialize(instance, "dataset", "base_model")  # what those runs do
        assert ticker.settings.store.dataset.is_file() and ticker.settings.store.base_model_pointer.is_file()
        assert not isinstance(ticker.sense(instance), dg.SensorResult)
    # The sensor may only request assets it targets.
    job = definitions.defs().resolve_implicit_global_asset_job_def()
    assert {dg.AssetKey(k) for k in sensors.REBUILT_WHEN_GONE} <= set(job.asset_layer.selected_asset_keys)


def test_a_source_missing_a_required_file_is_reported_not_observed(ticker):
    (ticker.settings.raw_path / "mediqa2019_qa/MEDIQA_Task3_QA/MEDIQA2019-Task3-QA-TestSet-wLabels.xml").unlink()
    with dg.instance_for_test() as instance:
        observations, downloads, problems = sensors.check_sources(instance, ticker.settings.raw_path, START)
    assert [o.asset_key.to_user_string() for o in observations] == ["raw_medquad"] and not downloads
    assert len(problems) == 1 and "raw_mediqa_qa" in problems[0] and "TestSet-wLabels.xml" in problems[0]


def test_half_copied_sources_wait_until_their_files_are_still(sample_copy):
    """A collection being copied in while the sensor runs is not observed (nor built) half-copied: the sensor
    waits until the files have not changed for the settle time."""
    settings = MediMindSettings(raw_dir=str(sample_copy), data_dir=str(sample_copy.parent / "out"))
    for path in sample_copy.rglob("*.xml"):
        os.utime(path)  # copied just now (copytree keeps the checkout's times)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"settings": settings})
        waiting = sensors.raw_sources_sensor(context)
        assert isinstance(waiting, dg.SkipReason) and "still for 60 s" in waiting.skip_message
        old = time.time() - 120
        for path in sample_copy.rglob("*"):
            os.utime(path, (old, old))
        os.utime(sample_copy / "medquad", (old, old))
        context = dg.build_sensor_context(instance=instance, resources={"settings": settings})
        observed = sensors.raw_sources_sensor(context)
        assert isinstance(observed, dg.SensorResult) and len(observed.asset_events) == 2


def test_a_file_dated_in_the_future_is_observed_without_waiting_for_that_date(sample_copy):
    """A clock ahead, or `cp -p` from such a host: waiting until the file is "still" would wait for years."""
    settings = MediMindSettings(raw_dir=str(sample_copy), data_dir=str(sample_copy.parent / "out"))
    future = time.time() + 10 * 365 * 24 * 3600
    path = next(sample_copy.rglob("*.xml"))
    os.utime(path, (future, future))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"settings": settings})
        observed = sensors.raw_sources_sensor(context)
    assert isinstance(observed, dg.SensorResult) and len(observed.asset_events) == 2


def test_a_collection_behind_a_symbolic_link_is_hashed_as_it_is_read(sample_copy, tmp_path):
    """The build reads a collection folder that is a link; its observation hashes it too, so an edit there is a new
    data version (and a retrain), never a silent change."""
    from medimind_assets.data import sources

    elsewhere = tmp_path / "elsewhere" / "5_NIDDK_QA"
    shutil.move(sample_copy / "medquad" / "5_NIDDK_QA", elsewhere)
    (sample_copy / "medquad" / "5_NIDDK_QA").symlink_to(elsewhere, target_is_directory=True)
    before = sources.snapshot(sample_copy, sources.MEDQUAD, counts=False)
    assert any(f.path.startswith("5_NIDDK_QA/") for f in before.files)
    first = next(elsewhere.glob("*.xml"))
    first.write_text(first.read_text().replace("</Document>", "<!-- edited --></Document>"))
    assert sources.snapshot(sample_copy, sources.MEDQUAD, counts=False).data_version != before.data_version

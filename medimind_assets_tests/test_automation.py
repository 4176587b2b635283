"""Automation conditions, evaluated tick by tick on a temporary instance with real materializations.

A changed raw file leads to dataset, then adapter (in the training window), then evaluation; the same bytes
read again, or a byte-identical dataset, request nothing; a second tick in the same window requests nothing.
"""

import datetime
import shutil
import warnings

import dagster as dg
import pytest

from medimind_assets import definitions
from medimind_assets.resources import MediMindSettings, SubprocessLauncher

START = datetime.datetime(2026, 11, 24, 0, 30, tzinfo=datetime.timezone.utc)  # nightly window opens at 02:00
SOURCES = {"raw_mediqa_qa", "raw_medquad"}  # re-read on every hourly tick
KEYS = ["raw_mediqa_qa", "raw_medquad", "dataset", "base_model", "lora_adapter", "evaluation", "merged_model"]


class Ticker:
    def __init__(self, tmp_path, raw):
        self.settings = MediMindSettings(raw_dir=str(raw), data_dir=str(tmp_path / "out"))
        self.defs = dg.Definitions(
            assets=definitions.ASSETS,
            asset_checks=[definitions.dataset_checks],
            resources={"settings": self.settings, "launcher": SubprocessLauncher()},
        )
        self.cursor = None
        self.now = START

    def tick(self, instance, minutes: int = 1) -> set[str]:
        self.now += datetime.timedelta(minutes=minutes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = dg.evaluate_automation_conditions(
                defs=self.defs, instance=instance, cursor=self.cursor, evaluation_time=self.now
            )
        self.cursor = result.cursor
        return {key for key in KEYS if result.get_num_requested(dg.AssetKey(key))}

    def materialize(self, instance, *keys: str) -> None:
        assets = [self.defs.get_assets_def(k) for k in keys]
        checks = [definitions.dataset_checks] if "dataset" in keys else []
        result = dg.materialize(assets + checks, resources={"settings": self.settings}, instance=instance)
        assert result.success


def report(instance, key: str, version: str) -> None:
    """Record a materialization with a data version, as a finished training or evaluation run would."""
    instance.report_runless_asset_event(dg.AssetMaterialization(key, tags={"dagster/data_version": version}))


@pytest.fixture
def ticker(tmp_path, sample_data):
    raw = tmp_path / "raw"
    shutil.copytree(sample_data, raw)
    return Ticker(tmp_path, raw)


def test_a_changed_raw_file_flows_down_once_and_the_same_bytes_change_nothing(ticker):
    alexa = ticker.settings.raw_path / "mediqa2019_qa/MEDIQA_Task3_QA/MEDIQA2019-Task3-QA-TrainingSet2-Alexa.xml"
    with dg.instance_for_test() as instance:
        ticker.tick(instance)
        ticker.materialize(instance, "raw_mediqa_qa", "raw_medquad", "dataset")
        report(instance, "base_model", "tiny")
        report(instance, "lora_adapter", "fingerprint-1")
        report(instance, "evaluation", "fingerprint-1")
        ticker.tick(instance)
        assert ticker.tick(instance) == set()

        # The hourly re-read of unchanged files: new materializations, same data versions, nothing downstream.
        ticker.materialize(instance, "raw_mediqa_qa", "raw_medquad")
        assert ticker.tick(instance) == set()

        # A real change to a raw file: the dataset is rebuilt, once.
        alexa.write_bytes(alexa.read_bytes() + b"\n")  # a trailing newline: new bytes, same rows
        ticker.materialize(instance, "raw_mediqa_qa")
        assert ticker.tick(instance) == {"dataset"}
        ticker.materialize(instance, "dataset")  # byte-identical rows: the dataset's data version is unchanged
        assert ticker.tick(instance) == set()

        # No new dataset version, so the training window opens on nothing to do (only the hourly re-read).
        ticker.now = START.replace(hour=1, minute=58)
        assert ticker.tick(instance) == SOURCES
        assert ticker.tick(instance, minutes=2) == SOURCES


def test_new_dataset_version_trains_in_the_window_once_then_evaluates(ticker):
    alexa = ticker.settings.raw_path / "mediqa2019_qa/MEDIQA_Task3_QA/MEDIQA2019-Task3-QA-TrainingSet2-Alexa.xml"
    with dg.instance_for_test() as instance:
        ticker.materialize(instance, "raw_mediqa_qa", "raw_medquad", "dataset")
        report(instance, "base_model", "tiny")
        report(instance, "lora_adapter", "fingerprint-1")
        report(instance, "evaluation", "fingerprint-1")
        ticker.tick(instance)
        ticker.tick(instance)

        # A changed answer: a new dataset version.
        alexa.write_bytes(alexa.read_bytes().replace(b"influenza", b"Influenza", 1))
        ticker.materialize(instance, "raw_mediqa_qa")
        assert ticker.tick(instance) == {"dataset"}
        ticker.materialize(instance, "dataset")
        assert ticker.tick(instance) == set()  # outside the training window: wait

        ticker.now = START.replace(hour=1, minute=58)
        assert ticker.tick(instance) == SOURCES
        assert ticker.tick(instance, minutes=2) == SOURCES | {"lora_adapter"}  # 02:01, the window is open
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
        assert ticker.tick(instance, minutes=2) == SOURCES


def test_sensors_start_running():
    sensors = {s.name: s for s in definitions.defs.sensors}
    assert sensors["medimind_automation"].default_status == dg.DefaultSensorStatus.RUNNING
    assert sensors["log_failed_runs"].default_status == dg.DefaultSensorStatus.RUNNING

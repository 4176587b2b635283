"""Deployment settings: read once from the environment, each wrong value named with what it accepts, and applied
to the definitions Dagster loads."""

import dagster as dg
import pytest

from medimind_assets.config import Deployment, SettingError
from medimind_assets.definitions import build_definitions
from medimind_assets.resources import KubernetesLauncher, MediMindSettings, SubprocessLauncher


def test_defaults_need_no_environment():
    deployment = Deployment.from_env({})
    assert deployment == Deployment()
    assert (deployment.raw_dir, deployment.data_dir, deployment.training_cron) == ("data/raw", "data", "0 2 * * *")
    assert not deployment.auto_merge and deployment.launcher == "subprocess"


def test_values_are_read_and_trimmed():
    deployment = Deployment.from_env(
        {
            "MEDIMIND_RAW_DIR": " /corpus ",
            "MEDIMIND_KEEP_ADAPTERS": "5",
            "MEDIMIND_AUTO_MERGE": "Yes",
            "MEDIMIND_LAUNCHER": " Kubernetes ",
            "MEDIMIND_K8S_NAMESPACE": "ml",
            "MEDIMIND_MEDQUAD_URL": "http://mirror/medquad",
            "MEDIMIND_SOURCE_SETTLE_SECONDS": "0",
            "UNRELATED": "x",
        }
    )
    assert deployment.raw_dir == "/corpus" and deployment.keep_adapters == 5 and deployment.auto_merge
    assert deployment.launcher == "kubernetes"
    assert deployment.kubernetes == {"MEDIMIND_K8S_NAMESPACE": "ml"}
    assert deployment.source_urls == {"medquad": "http://mirror/medquad"}
    assert MediMindSettings.from_deployment(deployment).source_settle_seconds == 0


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("MEDIMIND_KEEP_ADAPTERS", "three", "MEDIMIND_KEEP_ADAPTERS='three': expected a whole number >= 0"),
        ("MEDIMIND_KEEP_ADAPTERS", "-1", "MEDIMIND_KEEP_ADAPTERS=-1: expected a whole number >= 0"),
        ("MEDIMIND_SOURCE_CHECK_SECONDS", "0", "MEDIMIND_SOURCE_CHECK_SECONDS=0: expected a whole number >= 1"),
        ("MEDIMIND_SOURCE_SETTLE_SECONDS", "-5", "MEDIMIND_SOURCE_SETTLE_SECONDS=-5: expected a whole number >= 0"),
        ("MEDIMIND_TRAINING_CRON", "nightly", "MEDIMIND_TRAINING_CRON='nightly': expected a five-field cron"),
        ("MEDIMIND_TRAINING_CRON", "0 2 * * 8", "MEDIMIND_TRAINING_CRON='0 2 * * 8': expected a five-field cron"),
        ("MEDIMIND_TRAINING_CRON", "0 25 * * *", "MEDIMIND_TRAINING_CRON='0 25 * * *': expected a five-field cron"),
        ("MEDIMIND_AUTO_MERGE", "enabled", "MEDIMIND_AUTO_MERGE='enabled': expected true or false"),
        ("MEDIMIND_AUTO_MERGE", "2", "MEDIMIND_AUTO_MERGE='2': expected true or false"),
    ],
)
def test_a_wrong_value_names_the_variable_and_what_it_accepts(variable, value, says):
    with pytest.raises(SettingError, match="^" + says.replace("*", r"\*")):
        Deployment.from_env({variable: value})


def _condition_label(defs: dg.Definitions, key: str) -> str | None:
    condition = defs.resolve_assets_def(key).specs_by_key[dg.AssetKey(key)].automation_condition
    return None if condition is None else condition.get_label()


def test_the_training_window_and_automatic_merging_reach_the_definitions(tmp_path):
    defs = build_definitions(Deployment(data_dir=str(tmp_path), training_cron="30 4 * * 6", auto_merge=True))
    assert _condition_label(defs, "lora_adapter") == "dataset changed; train in window 30 4 * * 6"
    assert _condition_label(defs, "merged_model") == "new promotion"
    settings = defs.resources["settings"]
    assert settings.data_dir == str(tmp_path)
    assert isinstance(defs.resources["launcher"], SubprocessLauncher)

    plain = build_definitions(Deployment(data_dir=str(tmp_path)))
    assert _condition_label(plain, "lora_adapter") == "dataset changed; train in window 0 2 * * *"
    assert _condition_label(plain, "merged_model") is None  # merged by hand only


def test_the_kubernetes_launcher_is_chosen_by_the_setting(tmp_path):
    deployment = Deployment(
        data_dir=str(tmp_path),
        launcher="kubernetes",
        kubernetes={"MEDIMIND_K8S_IMAGE": "medimind:1", "MEDIMIND_K8S_DATA_CLAIM": "medimind-data"},
    )
    assert isinstance(build_definitions(deployment).resources["launcher"], KubernetesLauncher)


@pytest.mark.parametrize("field", range(5))
@pytest.mark.parametrize("value", ["99", "-1", "x", "1-99", "*/0"])
def test_any_cron_field_out_of_range_is_named(field, value):
    fields = ["0", "2", "*", "*", "*"]
    fields[field] = value
    cron = " ".join(fields)
    with pytest.raises(SettingError, match="MEDIMIND_TRAINING_CRON=.*expected a five-field cron"):
        Deployment.from_env({"MEDIMIND_TRAINING_CRON": cron})


@pytest.mark.parametrize("value", ["enabled", "disabled", "2", "y", "n", "yess", "t", "f"])
def test_any_auto_merge_value_that_is_not_a_yes_or_no_is_named(value):
    with pytest.raises(SettingError, match=f"MEDIMIND_AUTO_MERGE='{value}': expected true or false"):
        Deployment.from_env({"MEDIMIND_AUTO_MERGE": value})
    for yes, no in (("1", "0"), ("TRUE", "False"), ("yes", "no"), (" on ", "off")):
        assert Deployment.from_env({"MEDIMIND_AUTO_MERGE": yes}).auto_merge is True
        assert Deployment.from_env({"MEDIMIND_AUTO_MERGE": no}).auto_merge is False

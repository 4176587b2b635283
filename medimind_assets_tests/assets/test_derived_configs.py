"""Each settings set is declared once (a dataclass with help texts); the Dagster run configs derive from it."""

import dataclasses

import dagster as dg
import pytest

from medimind_assets.assets.common import config_from, settings_from
from medimind_assets.assets.dataset import DatasetConfig
from medimind_assets.assets.evaluation import EvaluationConfig
from medimind_assets.assets.merge import MergeConfig
from medimind_assets.data.build import BuildOptions
from medimind_assets.data.safety import DosageRule
from medimind_assets.evaluation.settings import EvaluationSettings
from medimind_assets.merging.settings import MergeSettings
from medimind_assets.options import option


@pytest.mark.parametrize(
    ("settings_class", "config_class"),
    [(BuildOptions, DatasetConfig), (EvaluationSettings, EvaluationConfig), (MergeSettings, MergeConfig)],
)
def test_every_setting_reaches_the_launchpad_with_its_help_and_default(settings_class, config_class):
    for field in dataclasses.fields(settings_class):
        config_field = config_class.model_fields[field.name]
        assert config_field.description == field.metadata["help"] and config_field.description
        default = field.default.value if isinstance(field.default, DosageRule) else field.default
        assert config_field.default == default


def test_a_new_setting_is_one_line_and_travels_through_a_real_run():
    @dataclasses.dataclass(frozen=True)
    class Options:
        steps: int = option(3, "How many steps.")
        rule: DosageRule = option(DosageRule.FLAG, "What to do with dosage answers.")

    config_class = config_from(Options, "OptionsConfig")
    seen = []

    @dg.asset
    def uses_options(config: config_class) -> None:
        seen.append(settings_from(Options, config, "options"))

    result = dg.materialize([uses_options], run_config={"ops": {"uses_options": {"config": {"rule": "reject"}}}})
    assert result.success and seen == [Options(steps=3, rule=DosageRule.REJECT)]


def test_the_derived_configs_build_the_library_settings():
    assert DatasetConfig(dosage_rule="reject").build_options() == BuildOptions(dosage_rule=DosageRule.REJECT)
    assert settings_from(EvaluationSettings, EvaluationConfig(margin=0.2), "evaluation") == EvaluationSettings(
        margin=0.2
    )
    # The run config itself refuses a value outside the choices (the launchpad too: test_definitions).
    with pytest.raises(ValueError, match="dosage_rule\n  Input should be 'flag', 'reject' or 'off'"):
        DatasetConfig(dosage_rule="sometimes")


def test_null_in_a_run_config_means_the_default_in_a_real_run():
    """Dagster lets a field with a default be null (the launchpad shows `Float?`): the step gets the default, not
    a pydantic traceback; a field whose setting takes None keeps it."""

    @dataclasses.dataclass(frozen=True)
    class Options:
        margin: float = option(0.01, "A margin.")
        limit: int | None = option(5, "A limit (None: no limit).")

    config_class = config_from(Options, "NullableConfig")
    seen = []

    @dg.asset
    def uses_options(config: config_class) -> None:
        seen.append(settings_from(Options, config, "options"))

    run_config = {"ops": {"uses_options": {"config": {"margin": None, "limit": None}}}}
    result = dg.materialize([uses_options], run_config=run_config)
    assert result.success and seen == [Options(margin=0.01, limit=None)]

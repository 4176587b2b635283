"""The code location loads fast, without torch, transformers, trl or datasets, and declares the asset contract."""

import subprocess
import sys

import dagster as dg
import pytest

from medimind_assets import cli, definitions
from medimind_assets.definitions import defs as load_definitions

defs = load_definitions()

CONTRACT = {
    "raw_mediqa_qa": "sources",
    "raw_medquad": "sources",
    "dataset": "data",
    "base_model": "training",
    "lora_adapter": "training",
    "evaluation": "evaluation",
    "merged_model": "evaluation",
}


def test_definitions_load_without_heavy_imports():
    code = (
        "import sys; import medimind_assets.definitions as d; d.defs().resolve_asset_graph(); "
        "print([m for m in ('torch', 'transformers', 'peft', 'accelerate', 'bitsandbytes', 'trl', 'datasets') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"definitions imported {out.strip()}"


def test_asset_keys_groups_and_metadata_conventions():
    graph = defs.resolve_asset_graph()
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    for key, group in CONTRACT.items():
        spec = specs[key]
        assert spec.group_name == group, key
        assert spec.kinds, key
        assert spec.owners == ["team:medimind"], key
        assert spec.code_version, key
    assert set(specs) == set(CONTRACT)
    parents = {key: {k.to_user_string() for k in graph.get(dg.AssetKey(key)).parent_keys} for key in CONTRACT}
    assert parents["dataset"] == {"raw_mediqa_qa", "raw_medquad"}
    assert parents["lora_adapter"] == {"base_model", "dataset"}
    assert "lora_adapter" in parents["evaluation"]


def test_training_is_serialised_and_the_main_job_leaves_out_the_merge():
    assert defs.get_assets_def("lora_adapter").node_def.pool == "gpu"
    job = defs.resolve_job_def("medimind_pipeline")
    all_keys = {spec.key.to_user_string() for spec in defs.resolve_all_asset_specs()}
    assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == all_keys - {"merged_model"}


def test_dataset_checks_are_blocking():
    specs = [spec for checks in defs.asset_checks for spec in checks.check_specs if spec.asset_key.path == ["dataset"]]
    assert {s.name for s in specs} == {
        "schema",
        "unique",
        "split_by_question",
        "test_isolation",
        "safety_levels",
        "min_rows",
    }
    assert all(s.blocking for s in specs)


def test_the_command_line_knows_every_asset_and_job_it_can_launch():
    defs = definitions.defs()
    assert set(cli.ASSETS) == {key.to_user_string() for a in definitions.ASSETS for key in a.keys}
    assert set(cli.JOBS) == {job.name for job in defs.jobs if not job.name.startswith("__")}


@pytest.mark.parametrize(
    ("op", "field", "bad", "good"),
    [
        ("evaluation", "ranker", "bogus", "mean_pmi"),
        ("lora_adapter", "quantization", "4-bit", "4bit"),
        ("dataset", "dosage_rule", "drop", "reject"),
    ],
)
def test_a_choice_outside_its_values_is_refused_at_launch_not_when_its_step_runs(op, field, bad, good):
    """Before the run starts: a misspelt ranker would otherwise fail only after the dataset and the training."""
    job = definitions.defs().resolve_job_def("medimind_pipeline")
    with pytest.raises(dg.DagsterInvalidConfigError, match=f"root:ops:{op}:config:{field} not in enum type"):
        dg.validate_run_config(job, {"ops": {op: {"config": {field: bad}}}})
    assert dg.validate_run_config(job, {"ops": {op: {"config": {field: good}}}})

"""`medimind`: every misuse is one line on stderr and exit 2; `status` says what the pipeline has built."""

from pathlib import Path

import dagster as dg
import pytest

from medimind_assets import cli
from medimind_assets.assets.evaluation import EvaluationConfig, evaluation
from medimind_assets.assets.merge import merged_model
from medimind_assets.llm.loading import choose_device
from medimind_assets.resources import MediMindSettings, SubprocessLauncher
from medimind_assets.status import training_facts
from medimind_assets_tests.model_world import use_adapter


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["ask", "hi", "--max-new-tokens", "abc"], "expected a whole number >= 1, got 'abc'"),
        (["ask", "hi", "--max-new-tokens", "0"], "expected a whole number >= 1, got 0"),
        (["ask", "hi", "--repetition-penalty", "0.5"], "expected a number >= 1.0, got 0.5"),
        (["ask", "hi", "--repetition-penalty", "strong"], "expected a number >= 1.0, got 'strong'"),
        (["ask", "hi", "--data-dir", "/nonexistent/medimind"], "data folder /nonexistent/medimind does not exist"),
        (["lineage", "--data-dir", "/nonexistent/medimind"], "data folder /nonexistent/medimind does not exist"),
        (["status", "--data-dir", "/nonexistent/medimind"], "data folder /nonexistent/medimind does not exist"),
        (["serve", "--data-dir", "/nonexistent/medimind"], "data folder /nonexistent/medimind does not exist"),
        (["serve", "--port", "70000"], "expected a port number 0-65535, got 70000"),
        (["serve", "--max-new-tokens", "5000"], "expected a whole number from 1 to 1024, got 5000"),
        (["serve", "--reload-interval", "-1"], "expected a number >= 0, got -1"),
        (["serve", "--threads", "0"], "expected a whole number >= 1, got 0"),
        (["serve", "--device", "nonsense", "--data-dir", "."], "unknown device 'nonsense'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_misuse_is_one_line_and_exit_2(argv, says, capsys):
    assert run(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0]


def run(argv: list[str]) -> int:
    """The exit code, whether the command returned it or argparse exited with it."""
    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


def test_lineage_without_any_dagster_instance_says_how_to_get_one(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    assert cli.main(["lineage", "--data-dir", "data"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no Dagster instance" in err[0] and ".dagster_home" in err[0]


@pytest.mark.parametrize(
    ("device", "says"), [("nonsense", "unknown device 'nonsense'"), ("cuda:0", "'cuda:0' asked for")]
)
def test_a_device_this_machine_lacks_is_named(device, says):
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match=says):
        choose_device(device)
    assert choose_device("cpu") == "cpu"


def test_status_on_an_empty_data_folder_says_what_to_materialize(tmp_path, capsys):
    assert cli.main(["status", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "dataset not found" in out and "not trained yet (materialize lora_adapter)" in out
    assert "make dev" in out and "medimind ask" in out and "medimind lineage" in out


def test_training_facts_say_how_long_and_whether_the_loss_fell():
    metrics = {"global_step": 27, "epochs": 1.0, "tokens_trained": 14799, "train_runtime_s": 501.2}
    curve = {"train": [[5, 2.7104], [25, 2.5832]]}
    assert training_facts({**metrics, "final_validation_loss": 2.2763}, curve) == [
        "27 steps, 1 epoch",
        "14,799 tokens in 8m21s",
        "train loss 2.710 -> 2.583",
        "validation loss 2.276",
    ]
    assert training_facts({}, {}) == []


def test_status_summarises_what_a_run_built(world, data_dir: Path, capsys):
    """After evaluation and merging on tiny-phi: rows, the adapter, the verdict with base beside adapter, the
    promoted and merged folders, the next commands."""
    use_adapter(data_dir, world.trained_adapter)
    settings = MediMindSettings(raw_dir=str(world.raw_dir), data_dir=str(data_dir), base_model="tiny-phi")
    fast = EvaluationConfig(generation_sample=3, max_new_tokens=8, max_safety_questions=2, margin=0.05)
    result = dg.materialize(
        [evaluation, merged_model],
        resources={"settings": settings, "launcher": SubprocessLauncher()},
        run_config=dg.RunConfig(ops={"evaluation": fast}),
    )
    assert result.success
    capsys.readouterr()

    assert cli.main(["status", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"MediMind: what is built under {data_dir.resolve()}"
    assert any(line.startswith("  dataset     data/dataset.jsonl: ") and " rows (" in line for line in lines)
    assert f"  adapter     {world.trained_adapter.resolve()}" in lines
    assert "  evaluation  gate PASSED, adapter promoted" in lines
    assert any(line.strip().startswith("- held-out loss improved by") for line in lines)
    header = next(i for i, line in enumerate(lines) if line.split() == ["base", "adapter"])
    loss = lines[header + 1].split()
    assert lines[header + 1].strip().startswith("held-out loss (") and float(loss[-2]) > float(loss[-1])
    assert any(line.strip().startswith("ranking accuracy (24 candidates, 6 questions)") for line in lines)
    assert any(line.strip().startswith("ROUGE-L (3 generated answers)") for line in lines)
    assert any(line.strip().startswith("degenerate answers") for line in lines)
    assert any(line.startswith("  promoted    this adapter (adapters/current.json)") for line in lines)
    assert "  merged      data/merged/trained (medimind ask --merged)" in lines
    commands = [line.strip() for line in lines[lines.index("Next:") + 1 :: 2]]
    assert commands == [
        "make dev",
        '.venv/bin/medimind ask "What are the symptoms of diabetes?"',
        '.venv/bin/medimind ask "What are the symptoms of diabetes?" --compare',
        ".venv/bin/medimind lineage",
    ]

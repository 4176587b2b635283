"""`medimind`: every misuse is one line on stderr and exit 2; `status` says what the pipeline has built."""

import pytest

from medimind_assets import cli
from medimind_assets.llm.loading import choose_device


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["ask", "hi", "--max-new-tokens", "abc"], "expected a whole number >= 1, got 'abc'"),
        (["ask", "hi", "--max-new-tokens", "0"], "expected a whole number >= 1, got 0"),
        (["ask", "hi", "--data-dir", "/nonexistent/medimind"], "data folder /nonexistent/medimind does not exist"),
        (["lineage", "--data-dir", "/nonexistent/medimind"], "data folder /nonexistent/medimind does not exist"),
        (["status", "--data-dir", "/nonexistent/medimind"], "data folder /nonexistent/medimind does not exist"),
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

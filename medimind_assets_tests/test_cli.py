"""`medimind`: every misuse is one line on stderr and exit 2; `status` says what the pipeline has built."""

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from medimind_assets import cli, instance
from medimind_assets.assets.evaluation import EvaluationConfig, evaluation
from medimind_assets.assets.merge import merged_model
from medimind_assets.llm.loading import choose_device
from medimind_assets.resources import MediMindSettings, SubprocessLauncher
from medimind_assets.status import training_facts
from medimind_assets.store import ArtifactStore
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
        (["dev", "--port", "70000"], "expected a port number 1-65535, got 70000"),
        (["serve", "--max-new-tokens", "5000"], "expected a whole number from 1 to 1024, got 5000"),
        (["serve", "--reload-interval", "-1"], "expected a number >= 0, got -1"),
        (["serve", "--threads", "0"], "expected a whole number >= 1, got 0"),
        (["serve", "--max-waiting", "0"], "expected a whole number >= 1, got 0"),
        (["serve", "--device", "nonsense", "--data-dir", "."], "unknown device 'nonsense'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["ask", "hi", "--base", "--compare"], "--base and --compare ask for the same answer twice"),
        (["ask", "--merged", "What is gout?"], "'What is gout?' was read as --merged's PATH; put the question first"),
        (["ask"], 'no question: medimind ask "What is a headache?"'),
        (["ask", "caf\udce9?", "--data-dir", "."], "the question is not UTF-8 text"),
        (["ask", "hi", "--frobnicate"], "unrecognized arguments: --frobnicate (see medimind ask --help)"),
        (["status", "--max-new-tokens", "3"], "(see medimind status --help)"),
        (
            ["launch", "dataset", "--config", "/nonexistent/run.yaml"],
            "config file /nonexistent/run.yaml does not exist",
        ),
        (["launch", "dataset", "--config", "/"], "config file / is a folder, not a file"),
        (["launch", "datset"], "no asset named 'datset'; the assets: raw_mediqa_qa, raw_medquad, dataset,"),
        (["launch", "--job", "pipeline"], "no job named 'pipeline'; the jobs: medimind_pipeline"),
        (["launch", "dataset", "--config", "README.md"], "README.md is not valid YAML"),
        (["launch", "dataset", "--config", "pyproject.toml"], "is not valid YAML"),
        (["launch", "dataset", "--config", "Makefile"], "is not valid YAML"),
        (["launch", "dataset", "--config", "deploy/local/dagster.yaml"], "expected a mapping of ops, resources"),
        (["dev", "--port", "0"], "expected a port number 1-65535, got 0"),
        (["launch", ""], "nothing to launch: name assets (raw_mediqa_qa,"),
        (["launch", " , "], "nothing to launch"),
    ],
)
def test_misuse_is_one_line_and_exit_2(argv, says, capsys):
    assert run(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0]


@pytest.mark.parametrize(
    ("yaml", "says"),
    [
        ("ops: {lora_adapter: {config: {lr: 0.001}}}", 'unexpected config entry "lr" at path ops:lora_adapter:config'),
        ("ops: {lora_adapter: {config: {learning_rate: fast}}}", 'Value "fast" of type'),
        ("ops: {datset: {config: {}}}", "no asset named 'datset' under ops"),
        ("resources: {settings: {config: {data_folder: x}}}", 'unexpected config entry "data_folder"'),
    ],
)
def test_a_run_config_dagster_would_refuse_is_one_line_before_launch(yaml, says, tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text(yaml)
    assert run(["launch", "lora_adapter", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0] and str(config) in err[0] and "Expected" not in err[0]


def run(argv: list[str]) -> int:
    """The exit code, whether the command returned it or argparse exited with it."""
    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


def test_lineage_without_any_dagster_instance_says_how_to_get_one(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setattr(instance, "project_root", lambda: tmp_path)  # a checkout that has no instance yet
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
    # Nothing is promoted: ask and lineage would only refuse; the web UI shows what ran.
    assert "make dev" in out.split("Next:")[1]
    assert "medimind ask" not in out.split("Next:")[1] and "medimind lineage" not in out.split("Next:")[1]


def test_status_tells_an_evaluation_that_is_running_or_was_killed_from_one_never_run(tmp_path, capsys):
    import subprocess
    import sys
    import textwrap

    from medimind_assets_tests.test_integrity import _adapter

    store = ArtifactStore.at(tmp_path)
    adapter = _adapter(store.adapters / "abc")
    store.write_latest({"fingerprint": "abc", "path": str(adapter)})
    assert cli.main(["status", "--data-dir", str(tmp_path)]) == 0
    assert "not run yet for this adapter" in capsys.readouterr().out
    # An evaluation process holds its lock, as evaluate_lora does, until the test lets it go (or it is killed).
    holder = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from medimind_assets.atomic import directory_lock
        with directory_lock(Path({str(store.evaluations)!r}), "abc", wait=False):
            print("held", flush=True)
            sys.stdin.read()
        """
    )
    process = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "held"
        assert cli.main(["status", "--data-dir", str(tmp_path)]) == 0
        assert "evaluation  running now" in capsys.readouterr().out
    finally:
        process.kill()
        process.wait()
    assert cli.main(["status", "--data-dir", str(tmp_path)]) == 1  # a monitoring script hears of it
    out = capsys.readouterr().out
    assert "evaluation  started but did not finish: the process was killed or failed" in out
    assert "materialize evaluation again" in out


@pytest.mark.parametrize("report", ["{truncated", "{}", '{"gate": {"passed": true}}'])
def test_status_names_a_damaged_or_missing_artefact_instead_of_failing(tmp_path, capsys, report):
    store = ArtifactStore.at(tmp_path)
    (store.adapters / "abc").mkdir(parents=True)
    (store.adapters / "abc" / "training_summary.json").write_text("{not json")
    (store.evaluations / "abc").mkdir(parents=True)
    (store.evaluations / "abc" / "evaluation.json").write_text(report)
    store.write_latest({"fingerprint": "abc", "path": str(store.adapters / "abc")})
    store.write_promoted({"fingerprint": "gone", "path": str(store.adapters / "gone")})
    store.write_base_model({"name": "tiny", "path": str(store.models / "tiny")})
    assert cli.main(["status", "--data-dir", str(tmp_path)]) == 1  # the promoted adapter would be refused
    out = capsys.readouterr().out
    assert "tiny (" in out and "missing, materialize base_model" in out
    assert "its training summary cannot be read" in out and "training_summary.json" in out
    assert "evaluation.json cannot be read" in out and "materialize evaluation" in out
    assert "adapters/gone is missing: `medimind ask` and serving will refuse it" in out
    assert "medimind ask" not in out.split("Next:")[1]  # it would refuse: not offered as a next step
    store.write_latest({"fingerprint": "abc", "path": str(store.adapters / "deleted")})
    assert cli.main(["status", "--data-dir", str(tmp_path)]) == 1
    assert "adapters/deleted is missing (adapters/latest.json points at it)" in capsys.readouterr().out


def test_status_survives_any_truncation_or_missing_key_of_the_evaluation_report(tmp_path):
    """Whatever is left of evaluation.json (a write cut at any byte, any one key removed at any depth), status
    prints its stages and names the file instead of failing."""
    from medimind_assets.promotion import AdapterRef, promote
    from medimind_assets.status import status_lines, status_report

    store = ArtifactStore.at(tmp_path)
    (store.adapters / "abc").mkdir(parents=True)
    store.write_latest({"fingerprint": "abc", "path": str(store.adapters / "abc")})
    numbers = {"loss": 2.5, "ranking_accuracy": 0.6, "rouge_l": 0.1, "eos_rate": 0.3, "degenerate_rate": 0.0}
    report = {
        "gate": {"passed": True, "reasons": ["held-out loss improved"]},
        "metrics": {"base": dict(numbers), "adapter": dict(numbers)},
        "counts": {"loss_examples": 3, "ranking_questions": 2, "ranking_answers": 9, "generation_questions": 2},
    }
    path = store.evaluations / "abc" / "evaluation.json"
    path.parent.mkdir(parents=True)
    text = json.dumps(report)

    def paths(node, prefix=()):
        for key, value in node.items():
            yield (*prefix, key)
            if isinstance(value, dict):
                yield from paths(value, (*prefix, key))

    def without(node, where):
        copy = json.loads(json.dumps(node))
        target = copy
        for key in where[:-1]:
            target = target[key]
        del target[where[-1]]
        return json.dumps(copy)

    damaged = [text[:cut] for cut in range(len(text))] + [without(report, where) for where in paths(report)]
    for content in damaged:
        path.write_text(content)
        lines, ok = status_report(store)
        assert lines[-1].startswith("      ") and any(line.startswith("  evaluation  ") for line in lines), content
        # A report it cannot read is said, and exits 1 for a monitoring script (it printed "cannot be read", exit 0).
        assert not (ok and any("cannot be read" in line for line in lines)), content
    path.write_text(text)
    # Passed, but adapters/current.json promotes nothing: the promotion never happened (killed, read-only folder).
    lines, ok = status_report(store)
    assert not ok and any(line.startswith("  evaluation  gate PASSED but not promoted") for line in lines)
    promote(store, AdapterRef("abc", store.adapters / "abc"), {"dataset_data_version": "d" * 64})
    assert "  evaluation  gate PASSED, adapter promoted" in status_lines(store)


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
    dpo = {"pairs": {"pairs": 26, "questions": 15}, "global_step": 7, "train_runtime_s": 252.4}
    assert training_facts({**metrics, "final_validation_loss": 2.3833}, curve, dpo)[2:] == [
        "train loss 2.710 -> 2.583",
        "then DPO on 26 preference pairs: 7 steps in 4m12s",
        "validation loss 2.383",  # measured after the preference stage
    ]
    resumed = {**metrics, "train_runtime_s": 0.8, "resumed_from_step": 100}
    assert training_facts(resumed, {})[1] == "14,799 tokens, resumed at step 100: 1s"  # not "in 1s"


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


def test_a_relative_data_folder_is_named_in_full(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run(["status", "--data-dir", "data"]) == 2
    assert f"data folder {tmp_path / 'data'} does not exist" in capsys.readouterr().err


def test_launch_and_dev_without_an_instance_say_how_to_get_one(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setattr(instance, "project_root", lambda: None)  # installed as a plain package
    for argv in (["launch", "dataset"], ["dev"]):
        assert run(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "no Dagster instance: set DAGSTER_HOME" in err[0]


def test_launch_passes_paths_as_the_user_meant_them_from_any_folder(tmp_path, monkeypatch):
    """`dg launch` runs in the checkout: a relative config file and data folders are resolved from where the user
    is, so the run reads and writes where `medimind status`, run there, looks."""
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda command, env, cwd: calls.append((command, env, cwd)) or 0)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEDIMIND_DATA_DIR", "rel-data")
    monkeypatch.setenv("MEDIMIND_RAW_DIR", "~/raw")
    (tmp_path / "home").mkdir()
    (tmp_path / "mine.yaml").write_text("ops: {}\n")
    monkeypatch.chdir(tmp_path)
    assert run(["launch", "dataset", "--config", "mine.yaml"]) == 0
    [(command, env, cwd)] = calls
    assert command[command.index("--config") + 1] == str(tmp_path / "mine.yaml")
    assert env["MEDIMIND_DATA_DIR"] == str(tmp_path / "rel-data")
    assert env["MEDIMIND_RAW_DIR"] == str(Path("~/raw").expanduser())
    assert env["DAGSTER_HOME"] == str(tmp_path / "home")


def test_the_project_instance_is_made_from_the_shipped_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    (tmp_path / "deploy" / "local").mkdir(parents=True)
    (tmp_path / "deploy" / "local" / "dagster.yaml").write_text("python_logs:\n  python_log_level: INFO\n")
    monkeypatch.setattr(instance, "project_root", lambda: tmp_path)
    assert instance.dagster_home() is None  # not made by looking
    home = instance.dagster_home(create=True)
    assert home == tmp_path / ".dagster_home" and (home / "dagster.yaml").read_text().startswith("python_logs")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    assert instance.dagster_home() == tmp_path / "elsewhere" and not (tmp_path / "elsewhere").exists()
    # A new DAGSTER_HOME gets the project's settings (the gpu pool limit, run monitoring); an existing one is its own.
    assert (instance.dagster_home(create=True) / "dagster.yaml").read_text().startswith("python_logs")
    (tmp_path / "theirs" / "storage").mkdir(parents=True)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "theirs"))
    assert not (instance.dagster_home(create=True) / "dagster.yaml").exists()


def test_a_run_in_a_temporary_instance_says_it_will_not_show_anywhere(tmp_path):
    @dg.asset
    def uses_settings(settings: MediMindSettings) -> None:
        del settings

    with dg.DagsterInstance.ephemeral() as ephemeral:
        result = dg.materialize([uses_settings], resources={"settings": MediMindSettings()}, instance=ephemeral)
        messages = [entry.user_message for entry in ephemeral.all_logs(result.run_id)]
    assert any("recorded in a temporary Dagster instance" in m and "medimind launch" in m for m in messages)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as kept:
        result = dg.materialize([uses_settings], resources={"settings": MediMindSettings()}, instance=kept)
        assert not any("temporary Dagster instance" in e.user_message for e in kept.all_logs(result.run_id))


def test_an_unreadable_instance_is_one_line(tmp_path, monkeypatch, capsys):
    """A Dagster home whose storage cannot be read (read-only, corrupt) is named in one line, exit 2."""
    home = tmp_path / "home"
    (home / "history").mkdir(parents=True)
    (home / "dagster.yaml").write_text("")
    (home / "history" / "runs.db").write_bytes(b"this is not a sqlite database" * 40)
    (tmp_path / "data" / "adapters").mkdir(parents=True)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert run(["lineage", "--adapter", "abc", "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"the Dagster instance at {home} cannot be read" in err[0]


def test_any_question_holding_bytes_that_are_not_utf8_is_refused(capsys):
    """Every undecodable byte reaches argv as a lone surrogate (U+DC80-U+DCFF), wherever it is in the question."""
    for byte in range(0x80, 0x100):
        surrogate = chr(0xDC00 + byte)
        for question in (surrogate, f"what is caf{surrogate}?", f"pain{surrogate}"):
            assert run(["ask", question, "--data-dir", "."]) == 2
            assert "the question is not UTF-8 text" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["0", "-1", "65536", "70000", "99999999", "http", "3000.5"])
def test_dev_refuses_every_port_it_cannot_listen_on(port, capsys):
    assert run(["dev", "--port", port]) == 2
    assert "expected a port number 1-65535" in capsys.readouterr().err


@pytest.mark.parametrize("selection", ["datset", "dataset,lora", "raw_mediqa", "merged", "DATASET", "evaluation,x_1"])
def test_launch_names_every_unknown_asset_in_a_plain_list(selection, capsys):
    assert run(["launch", selection]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no asset named" in err[0]


def test_status_shows_every_stage_it_can_when_one_pointer_is_unreadable(tmp_path, capsys):
    store = ArtifactStore.at(tmp_path)
    store.write_base_model({"name": "tiny", "path": str(store.models / "tiny")})
    store.adapters.mkdir()
    store.latest_pointer.write_text("{truncated")
    assert cli.main(["status", "--data-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "latest.json" in out and "tiny (" in out and "promoted" in out
    assert "adapter     unknown: latest.json cannot be read (above)" in out and "not trained yet" not in out
    store.latest_pointer.unlink()
    store.latest_pointer.mkdir()  # a folder in its place is no pointer, and no "nothing trained" either
    assert cli.main(["status", "--data-dir", str(tmp_path)]) == 1
    assert "latest.json: not a file" in capsys.readouterr().out


def test_status_says_the_promoted_adapters_report_is_missing_not_that_it_was_never_evaluated(tmp_path, capsys):
    from medimind_assets_tests.test_integrity import _adapter

    store = ArtifactStore.at(tmp_path)
    adapter = _adapter(store.adapters / "abc")
    store.write_latest({"fingerprint": "abc", "path": str(adapter)})
    store.write_promoted({"fingerprint": "abc", "path": str(adapter)})
    cli.main(["status", "--data-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "evaluations/abc/evaluation.json is missing; adapters/current.json keeps the gate" in out
    assert "not run yet" not in out


def test_status_names_a_newest_adapter_missing_its_weights(tmp_path, capsys):
    from medimind_assets_tests.test_integrity import _adapter

    store = ArtifactStore.at(tmp_path)
    adapter = _adapter(store.adapters / "abc")
    store.write_latest({"fingerprint": "abc", "path": str(adapter)})
    assert cli.main(["status", "--data-dir", str(tmp_path)]) == 0
    (adapter / "adapter_model.safetensors").unlink()
    assert cli.main(["status", "--data-dir", str(tmp_path)]) == 1
    assert "the adapter is damaged" in capsys.readouterr().out
    shutil.rmtree(adapter)
    adapter = _adapter(store.adapters / "abc")
    (adapter / "training_summary.json").unlink()  # what evaluation refuses: nothing says what it was trained on
    assert cli.main(["status", "--data-dir", str(tmp_path)]) == 1
    assert "training_summary.json: does not exist" in capsys.readouterr().out


def test_an_unreadable_promotion_pointer_is_not_read_as_no_promotion(tmp_path, capsys):
    store = ArtifactStore.at(tmp_path)
    store.adapters.mkdir(parents=True)
    store.current_pointer.write_text("")
    assert cli.main(["status", "--data-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "no adapter has passed the gate yet" not in out and "cannot be read" in out
    assert "medimind ask" not in out.split("Next:")[1]


@pytest.mark.parametrize("selection", ["dataset lora_adapter", "key:datset+", "dataset+ and and"])
def test_a_selection_dagster_cannot_resolve_is_one_line(selection, capsys):
    assert run(["launch", selection]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "selection" in err[0] and selection in err[0]


def test_a_selection_in_dagster_syntax_is_launched(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda command, env, cwd: calls.append(command) or 0)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("{}\n")
    assert run(["launch", "key:dataset+"]) == 0
    assert calls[0][calls[0].index("--assets") + 1] == "key:dataset+"


def test_a_malformed_instance_config_is_one_line_before_launch(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("run_monitoring: [enabled: true\n")
    assert run(["launch", "dataset"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"the Dagster instance at {tmp_path} cannot be used" in err[0]


def test_output_cut_short_by_the_reader_is_no_traceback(tmp_path):
    import subprocess
    import sys

    piped = subprocess.run(
        f"{sys.executable} -m medimind_assets.cli status --data-dir {tmp_path} | true",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr


def test_status_says_when_the_dataset_changed_since_the_newest_adapter_trained(tmp_path, capsys):
    store = ArtifactStore.at(tmp_path)
    store.dataset.write_text('{"id": "1"}\n')
    adapter = store.adapters / "abc"
    adapter.mkdir(parents=True)
    (adapter / "training_summary.json").write_text(json.dumps({"dataset": {"data_version": "0" * 64}}))
    store.write_latest({"fingerprint": "abc", "path": str(adapter)})
    cli.main(["status", "--data-dir", str(tmp_path)])
    assert "trained on dataset 000000000000, but dataset.jsonl is now" in capsys.readouterr().out


def test_ctrl_c_while_a_command_works_is_one_line_and_the_sigint_code(tmp_path, monkeypatch, capsys):
    """Ctrl-C during `serve`'s model load printed a KeyboardInterrupt traceback."""

    def interrupted(args):
        raise KeyboardInterrupt

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    for action in parser._subparsers._group_actions[0].choices.values():
        if action.prog.endswith(" status"):
            action.set_defaults(handler=interrupted)
    assert cli.main(["status", "--data-dir", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "medimind status: interrupted\n"


def test_a_dagster_home_that_is_a_file_is_one_line(tmp_path, monkeypatch, capsys):
    home = tmp_path / "not-a-folder"
    home.write_text("")
    monkeypatch.setenv("DAGSTER_HOME", str(home / "sub"))
    assert cli.main(["launch", "dataset"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "cannot be made or used" in err and "Traceback" not in err

"""`medimind ask`: answers from the promoted adapter, the base, a given adapter or the merged model; clear
one-line errors (exit 2) when something is missing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from medimind_assets.cli import build_parser, main
from medimind_assets.data.safety import CAUTION_NOTICE, EMERGENCY_NOTICE, assess
from medimind_assets.merging.merge import merge_adapter
from medimind_assets.serving.ask import ask, resolve_targets
from medimind_assets_tests.model_world import evaluated


@pytest.fixture
def promoted(world, data_dir: Path) -> Path:
    """A data directory whose current.json promotes the trained adapter."""
    record = evaluated(world, world.trained_adapter)
    (data_dir / "adapters").mkdir()
    (data_dir / "adapters" / "current.json").write_text(json.dumps(record))
    return data_dir


def test_ask_uses_the_promoted_adapter(world, promoted: Path, capsys):
    code = main(["ask", "What is gout?", "--data-dir", str(promoted), "--max-new-tokens", "6", "--device", "cpu"])
    assert code == 0
    out = capsys.readouterr().out
    assert out.strip() and "[" not in out.splitlines()[0]  # one answer, no labels
    [(target, answer)] = ask(resolve_targets(promoted), "What is gout?", max_new_tokens=6, device="cpu")
    assert target.adapter_dir == world.trained_adapter and answer.text in out


def test_compare_prints_base_and_adapter_answers(promoted: Path, capsys):
    code = main(["ask", "What is gout?", "--compare", "--data-dir", str(promoted), "--max-new-tokens", "6"])
    assert code == 0
    out = capsys.readouterr().out
    assert "[base]" in out and "[adapter trained]" in out
    base, adapted = ask(resolve_targets(promoted, compare=True), "What is gout?", max_new_tokens=6, device="cpu")
    assert base[0].adapter_dir is None and base[0].model_dir == adapted[0].model_dir
    alone = ask(resolve_targets(promoted, base=True), "What is gout?", max_new_tokens=6, device="cpu")
    assert alone[0][1] == base[1]  # the adapter is really switched off for the base answer


@pytest.mark.parametrize(
    ("question", "first", "last"),
    [
        ("i have crushing chest pain and my left arm is numb what do i do", EMERGENCY_NOTICE, None),
        ("how much ibuprofin can i give my 3 year old", None, CAUTION_NOTICE),
    ],
)
def test_every_answer_shown_carries_the_safety_line_of_its_question(promoted: Path, capsys, question, first, last):
    """An emergency question is answered after the line to call emergency services, a caution question ends with
    the line to check with a clinician: whatever the model says (tiny-phi says nothing useful)."""
    code = main(["ask", question, "--compare", "--data-dir", str(promoted), "--max-new-tokens", "4"])
    assert code == 0
    blocks = capsys.readouterr().out.strip().split("\n\n[")
    assert len(blocks) == 2  # base and adapter: both carry it
    for block in blocks:
        shown = block.split("]\n", 1)[1].strip()
        assert shown.startswith(first) if first else shown.endswith(last)
    assert assess(question).level == ("emergency" if first else "caution")


def test_merged_model_answers_like_the_adapter(world, promoted: Path):
    record = json.loads((promoted / "adapters" / "current.json").read_text())
    info = {"adapter_files": record["adapter_files"]}  # as the merge asset records what it merged
    merge_adapter(world.base_dir, world.trained_adapter, promoted / "merged" / "trained", device="cpu", info=info)
    [(_, merged)] = ask(resolve_targets(promoted, merged=""), "What is eczema?", max_new_tokens=8, device="cpu")
    [(_, adapted)] = ask(resolve_targets(promoted), "What is eczema?", max_new_tokens=8, device="cpu")
    assert merged.text == adapted.text


def test_the_command_prints_the_answers_and_nothing_else(promoted: Path):
    """No loading bars, library notices or deprecation warnings around the answers (they are muted where they
    arise; a real warning would still show here)."""
    proc = subprocess.run(
        [sys.executable, "-m", "medimind_assets.cli", "ask", "What is gout?", "--compare", "--max-new-tokens", "6"],
        capture_output=True,
        text=True,
        env={**os.environ, "MEDIMIND_DATA_DIR": str(promoted)},
    )
    assert proc.returncode == 0 and "[base]" in proc.stdout
    # Only what the user needs to know: 6 tokens end no answer, and ask says each was cut.
    notices = proc.stderr.splitlines()
    assert notices and all(line.startswith("medimind ask: the answer reached --max-new-tokens (6)") for line in notices)


def test_explicit_adapter_path(world, data_dir: Path, capsys):
    code = main(["ask", "What is gout?", "--adapter", str(world.trained_adapter), "--data-dir", str(data_dir)])
    assert code == 0 and capsys.readouterr().out.strip()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no promoted adapter"),
        (["--adapter", "/nonexistent/adapter"], "LoRA adapter not found: /nonexistent/adapter"),
        (["--merged"], "no promoted adapter"),
        (["--merged", "/nonexistent/merged"], "merged model not found"),
    ],
)
def test_missing_models_exit_2_with_one_line(data_dir: Path, capsys, args: list[str], message: str):
    assert main(["ask", "What is a headache?", "--data-dir", str(data_dir), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_entry_point_without_any_pipeline_data(tmp_path: Path):
    (tmp_path / "nothing").mkdir()  # a data folder nothing has been built in yet
    env = {**os.environ, "MEDIMIND_DATA_DIR": str(tmp_path / "nothing")}
    proc = subprocess.run(
        [sys.executable, "-m", "medimind_assets.cli", "ask", "What is a headache?", "--base"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("medimind ask: No current base model") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_parser_has_extensible_subcommands():
    parser = build_parser()
    args = parser.parse_args(["ask", "q", "--merged"])
    assert args.command == "ask" and args.merged == "" and callable(args.handler)
    with pytest.raises(SystemExit):
        parser.parse_args(["ask", "q", "--base", "--adapter", "x"])  # mutually exclusive


def test_a_question_longer_than_the_context_is_cut_as_the_evaluation_cuts_it(promoted: Path, capsys):
    """tiny-phi reads 1,024 positions: a 3,000-word question is cut to its last tokens, answered, and said so."""
    question = "Tell me everything. " * 1000 + "What is gout?"
    code = main(["ask", question, "--data-dir", str(promoted), "--max-new-tokens", "4", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0 and captured.out.strip()
    assert (
        "longer than the prompt bound (--max-prompt-tokens, the evaluation's, or the model's context): only its "
        in (captured.err)
    )


def test_ask_reads_a_long_question_as_the_evaluation_and_serving_read_it(promoted: Path, capsys):
    """The same prompt bound as `serve` and the evaluation (256 tokens by default): what `ask` shows for a long
    question is what was evaluated and what is served; `--max-prompt-tokens` widens it."""
    question = "My knee hurts when I run. " * 20 + "What is gout?"  # over 256 tokens, under 900
    args = ["ask", question, "--data-dir", str(promoted), "--max-new-tokens", "2", "--device", "cpu"]
    assert main(args) == 0
    assert "only its last 256 tokens were read" in capsys.readouterr().err
    assert main([*args, "--max-prompt-tokens", "900"]) == 0
    assert "only its last" not in capsys.readouterr().err


def test_an_adapter_trained_on_another_base_is_refused_naming_both(world, data_dir: Path, tmp_path: Path, capsys):
    """`--adapter` and `LORA_MODEL_PATH` refuse an adapter whose training summary records other base weights than
    the current base model's, as the evaluation refuses it."""
    from medimind_assets.llm.artifacts import ArtifactMissingError
    from medimind_assets.serving.holder import resolve_served

    adapter = shutil.copytree(world.trained_adapter, tmp_path / "adapter")
    summary = json.loads((adapter / "training_summary.json").read_text())
    summary["base_model"] = {"name": "smollm2-135m", "content_hash": "ab" * 32}
    (adapter / "training_summary.json").write_text(json.dumps(summary))
    says = (
        f"adapter {adapter} was trained on base smollm2-135m (abababababab), but the current base model is "
        f"tiny-phi ({world.manifest['content_hash'][:12]})"
    )
    assert main(["ask", "What is gout?", "--adapter", str(adapter), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0]
    with pytest.raises(ArtifactMissingError, match=re.escape(says)):
        resolve_served(data_dir, adapter)


def test_max_new_tokens_is_bounded_as_serve_bounds_it(promoted: Path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["ask", "What is gout?", "--max-new-tokens", "9000", "--data-dir", str(promoted)])
    assert exited.value.code == 2
    assert "--max-new-tokens: expected a whole number from 1 to 1024, got 9000" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("max_new_tokens", "says"),
    [
        ("1024", "max_new_tokens 1024 leaves no room for the question in the model's 1024-token context"),
        ("1022", "and max_new_tokens 1022 do not fit together in the model's 1024-token context: ask for at most"),
    ],
)
def test_max_new_tokens_that_crowds_out_the_question_is_refused(promoted: Path, capsys, max_new_tokens, says):
    """tiny-phi reads 1,024 positions: never a question cut to make room for the answer, with a message blaming the
    question's length."""
    args = ["ask", "What is gout?", "--max-new-tokens", max_new_tokens, "--data-dir", str(promoted), "--device", "cpu"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0] and "longer than the model's context" not in err[0]


def test_a_question_with_nothing_visible_is_refused(promoted: Path, capsys):
    assert main(["ask", "\u200b\u2060 \ufeff", "--data-dir", str(promoted), "--device", "cpu"]) == 2
    assert capsys.readouterr().err.strip() == "medimind ask: the question is blank"

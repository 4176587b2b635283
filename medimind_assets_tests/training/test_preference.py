"""The preference stage: pairs from the MEDIQA training questions only, DPO after SFT, one adapter published."""

import json
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from medimind_assets.data import mediqa
from medimind_assets.data.sources import MEDIQA
from medimind_assets.training.preference import build_pairs

from .conftest import ListReporter, make_request, make_rows, materialize_lora, run_messages, write_dataset

ANSWER = "Gout is a form of arthritis caused by uric acid crystals in a joint; see a doctor about {}."
WRONG = "This page is about {} in dogs and cats, which the question did not ask about at all."


def _xml(path: Path, questions: list[tuple[str, str, list[tuple[str, int]]]]) -> None:
    parts = ["<MEDIQA2019-Task3-QA>"]
    for qid, text, answers in questions:
        parts.append(f'<Question QID="{qid}"><QuestionText>{escape(text)}</QuestionText><AnswerList>')
        for rank, (aid, score) in enumerate(answers, start=1):
            body = (ANSWER if score >= 3 else WRONG).format(f"{qid} {aid}")
            parts.append(
                f'<Answer AID="{aid}" SystemRank="{rank}" ReferenceRank="{rank}" ReferenceScore="{score}">'
                f"<AnswerURL>https://example.org/{aid}</AnswerURL><AnswerText>{escape(body)}</AnswerText></Answer>"
            )
        parts.append("</AnswerList></Question>")
    parts.append("</MEDIQA2019-Task3-QA>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")


TOPICS = {
    "L0": "gout flares at night",
    "L1": "a sprained ankle that keeps swelling",
    "L2": "migraines with an aura",
    "L3": "itchy eczema on my hands",
    "L4": "high blood pressure in pregnancy",
    "L5": "a child with croup",
    "A1": "shingles pain after the rash",
    "V0": "kidney stones that keep coming back",
    "T0": "a tick bite with a red ring around it",
}


def _question(qid: str) -> str:
    return f"What should I do about {TOPICS[qid]}?"


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "raw" / MEDIQA / mediqa.TASK_DIR
    three = [("a1", 4), ("a2", 1), ("a3", 2), ("a4", 3)]
    _xml(folder / mediqa.TRAINING_FILES["LiveQAMed"], [(f"L{i}", _question(f"L{i}"), three) for i in range(6)])
    # A1 asks what a validation question asks: never a pair, though its rows are in the train split.
    _xml(folder / mediqa.TRAINING_FILES["Alexa"], [("A0", _question("V0"), three), ("A1", _question("A1"), three)])
    _xml(folder / mediqa.TRAINING_FILES["Validation"], [("V0", _question("V0"), three)])
    _xml(folder / mediqa.TEST_LABELLED_FILE, [("T0", _question("T0"), three)])
    return tmp_path / "raw"


def _mediqa_rows(split_of: dict[str, str]) -> list[dict]:
    rows = []
    for question_id, split in split_of.items():
        tag, qid = question_id.split(":")[1:]
        for aid in ("a1", "a4"):  # the correct answers, as the dataset build keeps them
            rows.append(
                {
                    "id": f"{question_id}:{aid}",
                    "question_id": question_id,
                    "instruction": _question(qid if tag != "Alexa" or qid != "A0" else "V0"),
                    "response": ANSWER.format(f"{qid} {aid}"),
                    "source": "mediqa_qa",
                    "safety_level": "safe",
                    "split": split,
                    "answer_id": aid,
                    "reference_score": 4 if aid == "a1" else 3,
                    "origin": f"{MEDIQA}/{mediqa.TASK_DIR}/x.xml",
                }
            )
    return rows


SPLITS = {
    **{f"mediqa_qa:LiveQAMed:L{i}": "train" for i in range(5)},
    "mediqa_qa:LiveQAMed:L5": "validation",
    "mediqa_qa:Alexa:A0": "train",
    "mediqa_qa:Alexa:A1": "train",
    "mediqa_qa:Validation:V0": "train",
}


def test_pairs_come_from_the_training_files_questions_of_the_train_split_only(raw_dir):
    pairs, counts = build_pairs(_mediqa_rows(SPLITS), raw_dir)
    questions = {pair["question_id"] for pair in pairs}
    # Not L5 (validation split), not A0 (a validation question's text), never the Validation or Test files.
    assert questions == {f"mediqa_qa:LiveQAMed:L{i}" for i in range(5)} | {"mediqa_qa:Alexa:A1"}
    assert counts["questions"] == 6 and counts["pairs"] == 12 and counts["incorrect_answers"] == 16
    assert counts["questions_left_out_as_validation_or_test"] == 1 and counts["questions_not_in_train_split"] == 1
    for pair in pairs:  # each incorrect answer once, against a correct one taken in turn
        assert pair["chosen_id"] in ("a1", "a4") and pair["rejected_id"] in ("a2", "a3")
        assert "dogs and cats" in pair["rejected"] and "uric acid" in pair["chosen"]
    subset, counts = build_pairs(_mediqa_rows(SPLITS), raw_dir, max_pairs=5, seed=1)
    assert len(subset) == 5 and counts["pairs_available"] == 12 and counts["pairs"] == 5
    assert subset == build_pairs(_mediqa_rows(SPLITS), raw_dir, max_pairs=5, seed=1)[0]


def test_dpo_after_sft_publishes_one_tuned_adapter_with_its_pairs(settings, tiny_phi, raw_dir):
    from safetensors.torch import load_file

    from medimind_assets.training.reporting import pipes_metadata
    from medimind_assets.training.runner import run_training

    write_dataset(settings.store.dataset, make_rows() + _mediqa_rows(SPLITS))
    sft = make_request(settings, tiny_phi, max_steps=2, keep_checkpoints=True)
    dpo_request = make_request(
        settings, tiny_phi, max_steps=2, raw_dir=raw_dir, preference="dpo", preference_learning_rate=1e-3
    )
    assert dpo_request.fingerprint != sft.fingerprint
    assert dpo_request.sft_checkpoint_dir == sft.checkpoint_dir  # one SFT for both
    assert dpo_request.preference["counts"]["pairs"] == 12
    run_training(sft, ListReporter())
    reporter = ListReporter()
    outcome = run_training(dpo_request, reporter)

    assert any(f"resuming from checkpoint-2 of {sft.checkpoint_dir}" in line for line in reporter.lines)
    # The SFT it starts from is finished: used as it is, never trained a step past max_steps.
    assert outcome.summary["metrics"]["global_step"] == 2 and not (sft.checkpoint_dir / "checkpoint-3").exists()
    assert not any("step 3/2" in line for line in reporter.lines)
    preference = outcome.summary["preference"]
    assert preference["pairs"]["pairs"] == 12 and preference["global_step"] == 2  # max_steps bounds both stages
    assert preference["pairs_data_version"] == dpo_request.preference["data_version"]
    assert outcome.summary["runtime"]["trainer"] == "trl SFTTrainer + DPOTrainer"
    assert outcome.summary["metrics"]["final_validation_loss"] == preference["validation_loss"]
    adapter = dpo_request.adapter_dir
    assert not (adapter / "ref").exists()  # the reference copy is not published
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 8
    tuned, before = (
        load_file(adapter / "adapter_model.safetensors"),
        load_file(sft.adapter_dir / "adapter_model.safetensors"),
    )
    assert tuned.keys() == before.keys() and any(not (tuned[k] == before[k]).all() for k in tuned)
    assert "tuned with trl's DPOTrainer on 12 (question, correct answer, incorrect answer) pairs" in (
        (adapter / "README.md").read_text().replace("\n", " ")
    )
    metadata = pipes_metadata(outcome.summary, reused=False)
    assert metadata["preference_pairs"]["raw_value"]["pairs"] == 12


def test_a_preference_stage_that_moves_no_weight_is_refused_not_published(settings, tiny_phi, raw_dir):
    """Two pairs: one DPO step, at learning rate 0 under warmup. Publishing it would give the SFT adapter's bytes a
    new fingerprint and call it preference-tuned."""
    from medimind_assets.training.runner import TrainingError, run_training

    write_dataset(settings.store.dataset, make_rows() + _mediqa_rows(SPLITS))
    request = make_request(settings, tiny_phi, max_steps=2, raw_dir=raw_dir, preference="dpo", preference_max_pairs=2)
    with pytest.raises(TrainingError, match="the preference stage changed no weight of the adapter"):
        run_training(request, ListReporter())
    assert not request.adapter_dir.exists()


def test_preference_without_the_raw_files_is_refused(settings, tiny_phi):
    from medimind_assets.training.request import RequestError

    with pytest.raises(RequestError, match="needs the raw MEDIQA 2019 files"):
        make_request(settings, tiny_phi, preference="dpo")


def test_auto_tunes_on_pairs_where_there_are_some_and_trains_sft_alone_where_there_are_none(
    settings, tiny_phi, raw_dir, tmp_path
):
    """The default: a MedQuAD-only corpus (or no raw MEDIQA files) trains, as the same run without the stage."""
    from medimind_assets.data.rows import DatasetError

    write_dataset(settings.store.dataset, make_rows() + _mediqa_rows(SPLITS))
    auto = make_request(settings, tiny_phi, raw_dir=raw_dir)
    assert auto.hyperparameters.preference == "dpo" and auto.preference["counts"]["pairs"] == 12
    assert auto.fingerprint == make_request(settings, tiny_phi, raw_dir=raw_dir, preference="dpo").fingerprint
    sft_alone = make_request(settings, tiny_phi, raw_dir=raw_dir, preference="none")
    # No raw MEDIQA files, or a train split without MEDIQA rows: SFT alone, the run `none` names.
    assert make_request(settings, tiny_phi).fingerprint == sft_alone.fingerprint
    empty = tmp_path / "medquad-only"
    empty.mkdir()
    assert make_request(settings, tiny_phi, raw_dir=empty).preference is None
    write_dataset(settings.store.dataset, make_rows())
    request = make_request(settings, tiny_phi, raw_dir=raw_dir)
    assert request.preference is None and request.hyperparameters.preference == "none"
    # The one MEDIQA training question of the train split asks what a validation question asks: no pair.
    write_dataset(settings.store.dataset, make_rows() + _mediqa_rows({"mediqa_qa:Alexa:A0": "train"}))
    assert make_request(settings, tiny_phi, raw_dir=raw_dir).preference is None
    with pytest.raises(DatasetError, match="no preference pairs"):
        make_request(settings, tiny_phi, raw_dir=raw_dir, preference="dpo")


def test_a_preference_stage_resumed_from_its_checkpoint_publishes_the_same_adapter(settings, tiny_phi, raw_dir):
    import shutil

    from medimind_assets.training.runner import run_training

    write_dataset(settings.store.dataset, make_rows() + _mediqa_rows(SPLITS))

    def request(**overrides):  # 3 DPO steps (the 12 pairs in steps of 4), or max_steps
        return make_request(settings, tiny_phi, save_steps=1, raw_dir=raw_dir, **overrides)

    def killed(run, *checkpoints):  # no adapter, the stage's last checkpoints lost
        shutil.rmtree(run.adapter_dir)
        for checkpoint in checkpoints:
            shutil.rmtree(run.checkpoint_dir / "preference" / checkpoint)

    first = request(max_steps=3, preference="dpo", preference_learning_rate=1e-3, keep_checkpoints=True)
    run_training(first, ListReporter())
    weights = (first.adapter_dir / "adapter_model.safetensors").read_bytes()
    killed(first, "checkpoint-3")
    reporter = ListReporter()
    run_training(request(max_steps=3, preference="dpo", preference_learning_rate=1e-3), reporter)
    assert any("resuming from checkpoint-2 of" in line and line.endswith("/preference") for line in reporter.lines)
    assert (first.adapter_dir / "adapter_model.safetensors").read_bytes() == weights
    # Held to 2 steps by max_steps, killed after the stage's last checkpoint, before publishing: that checkpoint is
    # the adapter, no step past it.
    short = request(max_steps=2, preference="dpo", preference_learning_rate=1e-3, keep_checkpoints=True)
    run_training(short, ListReporter())
    weights = (short.adapter_dir / "adapter_model.safetensors").read_bytes()
    killed(short)
    reporter = ListReporter()
    run_training(short, reporter)
    assert "checkpoint-2 finished its 2 steps: the adapter is used as it is" in reporter.lines
    assert not (short.checkpoint_dir / "preference" / "checkpoint-3").exists()
    assert (short.adapter_dir / "adapter_model.safetensors").read_bytes() == weights


def test_dpo_runs_on_a_4bit_base_with_gradient_checkpointing(settings, tiny_phi, raw_dir):
    """The default GPU run: 4-bit weights, and now the preference stage after SFT on them."""
    import math

    from medimind_assets.training.runner import run_training

    write_dataset(settings.store.dataset, make_rows() + _mediqa_rows(SPLITS))
    request = make_request(
        settings, tiny_phi, raw_dir=raw_dir, quantization="4bit", gradient_checkpointing=True, max_steps=2
    )
    assert request.hyperparameters.preference == "dpo"
    outcome = run_training(request, ListReporter())
    assert outcome.summary["runtime"]["quantization"] == "4bit"
    preference = outcome.summary["preference"]
    assert preference["global_step"] == 2 and all(math.isfinite(loss) for _, loss in preference["loss_curve"]["train"])
    assert math.isfinite(preference["validation_loss"])


@pytest.mark.slow
def test_the_default_run_on_two_processes_tunes_on_the_pairs_after_sft(settings, tiny_phi, raw_dir):
    """The asset with its default `preference: auto`, two training processes (gloo): one DPO-tuned adapter."""
    import dagster as dg

    assert settings.raw_path == raw_dir  # the asset reads the MEDIQA files where the settings say
    write_dataset(settings.store.dataset, make_rows() + _mediqa_rows(SPLITS))
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_lora(settings, instance, num_processes=2, max_steps=2)
    messages = run_messages(instance, result)
    assert result.success, messages
    assert any("then DPO on 12 preference pairs" in m for m in messages)
    [materialization] = result.asset_materializations_for_node("lora_adapter")
    assert materialization.metadata["runtime"].value["world_size"] == 2
    assert materialization.metadata["preference_pairs"].value["pairs"] == 12
    summary = json.loads(
        (Path(materialization.metadata["identifiers"].value["adapter_path"]) / "training_summary.json").read_text()
    )
    assert summary["hyperparameters"]["preference"] == "dpo"
    assert summary["preference"]["global_step"] == 2  # 12 pairs, 4 per process and step: 8 a step, 2 an epoch

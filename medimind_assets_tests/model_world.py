"""A small synthetic MEDIQA world for evaluation, merging and `medimind ask` tests: raw test and validation XML +
ground truth, the two training files, dataset rows, a tiny-phi base model and three adapters, built once per session (the `world` fixture).

Train and test questions share their structure ("What is X?" answered by a templated paragraph) but not
their topics, so an adapter trained on train rows lowers the loss on test rows, as a real fine-tune does.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from medimind_assets.data.cleaning import clean_answer, clean_question
from medimind_assets.data.mediqa import TRAINING_FILES
from medimind_assets.data.safety import classify_safety
from medimind_assets.llm.template import DEFAULT_TEMPLATE, PromptTemplate
from medimind_assets.models import resolve_base_model, write_current_base_model
from medimind_assets.store import ArtifactStore

ORGANS = ["heart", "lungs", "liver", "kidneys", "skin", "brain", "stomach", "joints", "eyes", "blood"]
SYMPTOMS = ["pain", "fever", "fatigue", "swelling", "itching", "nausea", "dizziness", "cough", "rash", "weakness"]
TREATMENTS = ["rest", "medicine", "surgery", "physical therapy", "a healthy diet", "antibiotics", "fluids"]
TRAIN_TOPICS = [
    f"condition {name}"
    for name in ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
]
TRAIN_TOPICS += [
    f"syndrome {name}" for name in ["lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon"]
]
TEST_TOPICS = ["angina", "gout", "eczema", "asthma", "anemia", "migraine"]
VALIDATION_TOPICS = ["psoriasis", "bronchitis", "arthritis"]
EMERGENCY_QUESTION = "I have chest pain and trouble breathing. What is angina and what should I do?"
TASK_DIR = "mediqa2019_qa/MEDIQA_Task3_QA"
TEST_XML = f"{TASK_DIR}/MEDIQA2019-Task3-QA-TestSet-wLabels.xml"
GROUND_TRUTH = "mediqa2019_qa/Eval_Scripts/data/QA_testSet_ground_truth_round_2.txt"
VALIDATION_XML = f"{TASK_DIR}/MEDIQA2019-Task3-QA-ValidationSet.xml"
VALIDATION_GROUND_TRUTH = "mediqa2019_qa/Eval_Scripts/data/QA_validationSet_ground_truth.txt"
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"]


def good_answer(topic: str, rng: random.Random) -> str:
    organ, treatment = rng.choice(ORGANS), rng.choice(TREATMENTS)
    s1, s2 = rng.sample(SYMPTOMS, 2)
    return (
        f"{topic.capitalize()} is a condition that affects the {organ}. Common symptoms include {s1} and {s2}. "
        f"Treatment may include {treatment}. See your doctor if the symptoms get worse."
    )


def poor_answer(rng: random.Random) -> str:
    words = rng.sample(ORGANS + SYMPTOMS + TREATMENTS, 8)
    return "Related pages: " + ", ".join(words) + "."


def synthetic_questions(topics: list[str] = TEST_TOPICS, seed: int = 7, first: int = 1) -> list[dict]:
    """Labelled MEDIQA-style questions (six test ones by default), each with 2 correct and 2 incorrect candidate
    answers."""
    rng = random.Random(seed)
    questions = []
    for number, topic in enumerate(topics, start=first):
        text = EMERGENCY_QUESTION if topic == "angina" else f"What is {topic}?"
        correct = [good_answer(topic, rng) for _ in range(2)]
        if topic == "angina":
            correct[0] += " Call 911 if chest pain lasts more than a few minutes."
        answers = [
            (f"{number}_Answer{i}", text_, score)
            for i, (text_, score) in enumerate(
                [(correct[0], 4), (poor_answer(rng), 2), (correct[1], 3), (poor_answer(rng), 1)], start=1
            )
        ]
        questions.append({"qid": str(number), "text": text, "topic": topic, "answers": answers})
    return questions


def write_raw(
    raw_dir: Path, questions: list[dict], xml_name: str = TEST_XML, truth_name: str | None = GROUND_TRUTH
) -> Path:
    """A labelled XML (answers with a `Title (Section): ` prefix, as upstream) and its ground truth (with a header
    line for the test set, without for the validation set, none for a training file, as upstream)."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', "<MEDIQA2019-Task3-QA-TestSet>"]
    truth = ["question_id,answer_id,label"] if truth_name == GROUND_TRUTH else []
    for q in questions:
        parts.append(f'<Question QID="{q["qid"]}"><QuestionText>{escape(q["text"])}</QuestionText><AnswerList>')
        by_rank = sorted(q["answers"], key=lambda a: -a[2])
        for system_rank, (aid, text, score) in enumerate(q["answers"], start=1):
            rank = by_rank.index((aid, text, score)) + 1
            parts.append(
                f'<Answer AID="{aid}" SystemRank="{system_rank}" ReferenceRank="{rank}" ReferenceScore="{score}">'
                f"<AnswerURL>https://example.org/{aid}</AnswerURL>"
                f"<AnswerText>{escape(q['topic'].title())} (Overview): {escape(text)}</AnswerText></Answer>"
            )
        parts.append("</AnswerList></Question>")
        truth += [f"{q['qid']},{aid},{int(score >= 3)}" for aid, _, score in by_rank]
    parts.append("</MEDIQA2019-Task3-QA-TestSet>")
    xml = raw_dir / xml_name
    xml.parent.mkdir(parents=True, exist_ok=True)
    xml.write_text("\n".join(parts), encoding="utf-8")
    if truth_name is not None:
        (raw_dir / truth_name).parent.mkdir(parents=True, exist_ok=True)
        (raw_dir / truth_name).write_text("\n".join(truth) + "\n", encoding="utf-8")
    return xml


def dataset_rows(questions: list[dict]) -> list[dict]:
    """Train/validation rows on other topics, and the test questions' correct answers as the test split."""
    rng = random.Random(11)
    rows = []
    for i, topic in enumerate(TRAIN_TOPICS * 3):
        question = f"What is {topic}?"
        answer = good_answer(topic, rng)
        rows.append(_row(f"medquad:{i}", question, answer, "validation" if i % 10 == 0 else "train", None))
    for q in questions:
        for aid, text, score in q["answers"]:
            if score >= 3:
                row = _row(f"mediqa_qa:Test:{q['qid']}", clean_question(q["text"]), clean_answer(text), "test", score)
                rows.append({**row, "answer_id": aid, "source": "mediqa_qa"})
    return rows


def _row(question_id: str, question: str, answer: str, split: str, score: int | None) -> dict:
    return {
        "id": hashlib.sha256(f"{question_id}\x1f{answer}".encode()).hexdigest()[:20],
        "question_id": question_id,
        "instruction": question,
        "response": answer,
        "source": "medquad",
        "safety_level": classify_safety(question, answer),
        "split": split,
        "answer_id": question_id,
        "reference_score": score,
        "origin": "synthetic",
    }


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def training_texts(rows: list[dict], template: PromptTemplate | None = None) -> list[str]:
    template = template or PromptTemplate()
    return [template.prompt(r["instruction"]) + template.completion(r["response"]) for r in rows]


def make_adapter(
    base_dir: Path, out_dir: Path, texts: list[str], *, steps: int, lr: float, init_lora_weights: bool = True
) -> Path:
    """A PEFT LoRA adapter on `base_dir`: trained `steps` AdamW steps on `texts` (+ EOS), or left at its init
    (`init_lora_weights=True`: B = 0, the identity; False: random, a non-zero update)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    config = LoraConfig(
        r=8, lora_alpha=16, lora_dropout=0.0, target_modules=LORA_TARGETS, init_lora_weights=init_lora_weights
    )
    model = get_peft_model(model, config)
    if steps:
        encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for t in texts]
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
        rng = random.Random(0)
        model.train()
        for _ in range(steps):
            batch = rng.sample(encoded, min(8, len(encoded)))
            width = max(len(ids) for ids in batch)
            ids = torch.tensor([ids + [tokenizer.eos_token_id] * (width - len(ids)) for ids in batch])
            labels = torch.tensor([ids_ + [-100] * (width - len(ids_)) for ids_ in batch])
            mask = (labels != -100).long()
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    model.save_pretrained(str(out_dir))
    summary = {"prompt_template": DEFAULT_TEMPLATE, "fingerprint": out_dir.name, "steps": steps}
    (out_dir / "training_summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return out_dir


def point_latest(adapters_dir: Path, adapter_dir: Path) -> None:
    adapters_dir.mkdir(parents=True, exist_ok=True)
    pointer = {"fingerprint": adapter_dir.name, "path": str(adapter_dir)}
    (adapters_dir / "latest.json").write_text(json.dumps(pointer), encoding="utf-8")


@dataclass(frozen=True)
class World:
    raw_dir: Path
    dataset: Path
    base_dir: Path
    manifest: dict
    questions: list[dict]
    rows: list[dict]
    trained_adapter: Path  # lowers the held-out loss: passes the gate
    identity_adapter: Path  # LoRA B = 0: exactly the base, fails the gate
    random_adapter: Path  # non-zero random LoRA update: for merge tests


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("model_world")
    questions = synthetic_questions()
    rows = dataset_rows(questions)
    raw_dir = root / "raw"
    write_raw(raw_dir, questions)
    validation = synthetic_questions(VALIDATION_TOPICS, seed=13, first=101)
    write_raw(raw_dir, validation, VALIDATION_XML, VALIDATION_GROUND_TRUTH)
    for name, topics, seed in (("LiveQAMed", TRAIN_TOPICS[:10], 17), ("Alexa", TRAIN_TOPICS[10:], 19)):
        # What the learned ranker is fitted on; both files number their questions from 1, as upstream.
        write_raw(raw_dir, synthetic_questions(topics, seed=seed), f"{TASK_DIR}/{TRAINING_FILES[name]}", None)
    dataset = write_jsonl(root / "dataset.jsonl", rows)
    manifest = resolve_base_model("tiny-phi", root / "models", tokenizer_texts=training_texts(rows))
    base_dir = Path(manifest["path"])
    adapters = root / "adapters"
    train_texts = training_texts([r for r in rows if r["split"] == "train"])
    return World(
        raw_dir=raw_dir,
        dataset=dataset,
        base_dir=base_dir,
        manifest=manifest,
        questions=questions,
        rows=rows,
        trained_adapter=make_adapter(base_dir, adapters / "trained", train_texts, steps=40, lr=1e-2),
        identity_adapter=make_adapter(base_dir, adapters / "identity", train_texts, steps=0, lr=0.0),
        random_adapter=make_adapter(
            base_dir, adapters / "random", train_texts, steps=0, lr=0.0, init_lora_weights=False
        ),
    )


@pytest.fixture
def data_dir(tmp_path: Path, world: World) -> Path:
    """A pipeline data directory of its own: dataset.jsonl and models/base_model.json (no adapter pointers)."""
    data = tmp_path / "data"
    shutil.copy(world.dataset, data.mkdir(parents=True) or data / "dataset.jsonl")
    write_current_base_model(ArtifactStore.at(data), world.manifest)
    return data


def use_adapter(data: Path, adapter: Path) -> None:
    point_latest(data / "adapters", adapter)


def on_the_volume(world: World, data: Path):
    """The world's raw files, base model and adapters copied under MEDIMIND_DATA_DIR, where a pod sees them."""
    from medimind_assets.resources import MediMindSettings

    shutil.copytree(world.raw_dir, data / "raw")
    base = data / "hf-cache" / "tiny-phi"
    shutil.copytree(world.base_dir, base)
    write_current_base_model(ArtifactStore.at(data), {**world.manifest, "path": str(base)})
    for adapter in (world.trained_adapter, world.random_adapter):
        shutil.copytree(adapter, data / "adapters" / adapter.name)
    return MediMindSettings(raw_dir=str(data / "raw"), data_dir=str(data), base_model="tiny-phi")


def evaluated(world: World, adapter: Path, **extra) -> dict:
    """A `current.json` record as an evaluation whose gate passed writes it: the adapter's file digests, the base
    model's weight digest, the gate (`extra` adds or replaces fields)."""
    from medimind_assets.digests import file_digests
    from medimind_assets.evaluation.plan import evaluated_adapter_files

    return {
        "fingerprint": adapter.name,
        "path": str(adapter),
        # The files there are (a test may have broken the adapter on purpose).
        "adapter_files": file_digests(
            adapter, [n for n in evaluated_adapter_files(adapter) if (adapter / n).is_file()]
        ),
        "base_model": {"name": "tiny-phi", "path": str(world.base_dir), "content_hash": world.manifest["content_hash"]},
        "gate": {"passed": True, "reasons": ["passed"]},
        **extra,
    }

"""Preference tuning after SFT: trl's DPO on the MEDIQA 2019 answers the annotators judged, correct against incorrect
(docs/training.md#preference-tuning).

Both sides of a pair are cleaned alike, as the ranking cleans every candidate, so the only difference the model can
learn is what the annotators judged. Never a pair from the validation file (where the adapter and its settings are
chosen) or the test file, nor from a question whose text is one of theirs. The SFT adapter trains on against a
frozen copy of itself (trl's second adapter, "ref"), removed before publishing.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from medimind_assets.atomic import atomic_write_text
from medimind_assets.digests import sha256_text

INCORRECT_SCORES = frozenset({1, 2})
MIN_ANSWER_CHARS = 20


def pairs_possible(rows: list[dict], raw_dir: Path | None) -> bool:
    """Whether the train split has MEDIQA 2019 rows and the raw files `build_pairs` reads are there."""
    from medimind_assets.data import mediqa
    from medimind_assets.data.sources import MEDIQA

    if raw_dir is None or not any(r["split"] == "train" and r["source"] == "mediqa_qa" for r in rows):
        return False
    folder = Path(raw_dir) / MEDIQA / mediqa.TASK_DIR
    names = [mediqa.TRAINING_FILES[tag] for tag in ("Validation", *mediqa.TRAIN_SPLIT_TAGS)]
    return all((folder / name).is_file() for name in (*names, mediqa.TEST_LABELLED_FILE))


def build_pairs(
    rows: list[dict], raw_dir: Path, max_pairs: int | None = None, seed: int = 42
) -> tuple[list[dict], dict[str, int]]:
    """(question, chosen, rejected) pairs of the MEDIQA training questions in the dataset's train split, and counts."""
    from medimind_assets.data import mediqa
    from medimind_assets.data.cleaning import clean_answer, clean_question, compact_key, junk_reason
    from medimind_assets.data.sources import MEDIQA

    folder = Path(raw_dir) / MEDIQA / mediqa.TASK_DIR
    kept: dict[str, set[str]] = defaultdict(set)  # question_id -> its correct answers in the train split
    for row in rows:
        if row["split"] == "train" and row["source"] == "mediqa_qa":
            kept[row["question_id"]].add(row.get("answer_id"))
    held_out = {
        compact_key(clean_question(q.text))
        for name in (mediqa.TRAINING_FILES["Validation"], mediqa.TEST_LABELLED_FILE)
        for q in mediqa.parse_mediqa_file(folder / name)
    }
    counts: Counter = Counter()
    pairs: list[dict] = []
    for tag in mediqa.TRAIN_SPLIT_TAGS:
        for q in mediqa.parse_mediqa_file(folder / mediqa.TRAINING_FILES[tag], require_scores=True):
            question_id, question = f"mediqa_qa:{tag}:{q.qid}", clean_question(q.text)
            cleaned = [(a, clean_answer(a.text, strip_prefix=True)) for a in q.answers]
            chosen = [(a.aid, text) for a, text in cleaned if a.is_correct and a.aid in kept.get(question_id, ())]
            rejected = [
                (a.aid, text)
                for a, text in cleaned
                if a.reference_score in INCORRECT_SCORES and not junk_reason(question, text, MIN_ANSWER_CHARS)
            ]
            counts["incorrect_answers"] += sum(a.reference_score in INCORRECT_SCORES for a in q.answers)
            if compact_key(question) in held_out:
                counts["questions_left_out_as_validation_or_test"] += 1
            elif question_id not in kept:
                counts["questions_not_in_train_split"] += 1
            elif not chosen or not rejected:
                counts["questions_without_a_pair"] += 1
            else:
                counts["questions"] += 1
                for i, (rejected_id, rejected_text) in enumerate(rejected):
                    chosen_id, chosen_text = chosen[i % len(chosen)]
                    pairs.append(
                        {
                            "question_id": question_id,
                            "question": question,
                            "chosen_id": chosen_id,
                            "chosen": chosen_text,
                            "rejected_id": rejected_id,
                            "rejected": rejected_text,
                        }
                    )
    counts["pairs_available"] = len(pairs)
    if max_pairs is not None and max_pairs < len(pairs):
        keep = sorted(random.Random(seed).sample(range(len(pairs)), max_pairs))
        pairs = [pairs[i] for i in keep]
    counts["pairs"] = len(pairs)
    return pairs, dict(sorted(counts.items()))


def write_pairs(pairs: list[dict], cache_dir: Path) -> tuple[Path, str]:
    """The pairs at `<cache_dir>/preference/<sha256 of their content>.jsonl` (written once); returns path, version."""
    text = "".join(json.dumps(pair, sort_keys=True) + "\n" for pair in pairs)
    version = sha256_text(text)
    path = Path(cache_dir) / "preference" / f"{version}.jsonl"
    if not path.is_file():
        atomic_write_text(path, text)
    return path, version


def train_preference(model, tokenizer, request, plan, distributed, reporter) -> dict[str, Any]:
    """DPO of the SFT adapter on the request's pairs; returns the stage's summary (pairs, curve, final metrics)."""
    import datasets
    from trl import DPOConfig, DPOTrainer

    from medimind_assets.quiet import no_progress_bars
    from medimind_assets.training.checkpoints import resume_point
    from medimind_assets.training.reporting import loss_curve
    from medimind_assets.training.trainer import common_arguments, make_trainer, train_or_reuse, trl_config

    spec, hp = request.preference, request.hyperparameters
    template, weight = hp.template, hp.preference_sft_weight
    with no_progress_bars():
        pairs = datasets.Dataset.from_json(spec["path"], cache_dir=str(request.store.cache / "json"))
        dataset = pairs.map(
            lambda pair: {
                "prompt": template.prompt(pair["question"]),
                "chosen": template.completion(pair["chosen"]),
                "rejected": template.completion(pair["rejected"]),
            },
            remove_columns=pairs.column_names,
        )
    # `max_steps` bounds the stage (a smoke run stays short) without stretching it past its epochs over few pairs.
    per_step = hp.batch_size * hp.gradient_accumulation_steps * distributed.world_size
    epoch_steps = math.ceil(math.ceil(len(dataset) / per_step) * hp.preference_epochs)
    max_steps = hp.max_steps if 0 < hp.max_steps < epoch_steps else -1
    run_dir = request.checkpoint_dir / "preference"
    resume = resume_point(run_dir, request.force, distributed.is_main, reporter.info)
    reporter.info(f"preference stage: DPO on {len(dataset)} pairs ({spec['counts']})")
    args = trl_config(
        DPOConfig,
        **common_arguments(hp, plan, run_dir, has_eval=False),
        num_train_epochs=hp.preference_epochs,
        max_steps=max_steps,
        learning_rate=hp.preference_learning_rate,
        beta=hp.preference_beta,
        loss_type=["sigmoid", "sft"] if weight else ["sigmoid"],
        loss_weights=[1.0, weight] if weight else None,
        max_length=hp.preference_max_length,
    )
    with no_progress_bars():
        trainer = make_trainer(
            DPOTrainer, reporter, model=model, args=args, train_dataset=dataset, processing_class=tokenizer
        )
    started = time.monotonic()
    train_or_reuse(trainer, resume, max_steps, reporter)
    runtime_s = time.monotonic() - started
    model.delete_adapter("ref")  # the frozen reference copy; only the tuned adapter is published
    model.set_adapter("default")
    logged = [entry for entry in trainer.state.log_history if "rewards/accuracies" in entry]
    return {
        "method": "dpo",
        "pairs": spec["counts"],
        "pairs_data_version": spec["data_version"],
        "global_step": trainer.state.global_step,
        "train_runtime_s": round(runtime_s, 2),
        "final": {key: value for key, value in (logged[-1] if logged else {}).items() if key.startswith("rewards/")},
        "loss_curve": loss_curve(trainer.state.log_history),
    }

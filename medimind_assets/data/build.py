"""Build the training dataset rows from the raw sources: select, clean, classify, deduplicate and split.

Pure code (no Dagster): `build_dataset(raw_dir, options)` returns the rows and every rejected row counted under a
named reason. The MEDIQA 2019 test set becomes the `test` split and nothing resembling one of its questions
(compared after normalisation) reaches `train` or `validation`, nor does any of its reference answers.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from medimind_assets.data import mediqa, medquad
from medimind_assets.data.cleaning import (
    clean_answer,
    clean_question,
    junk_reason,
    normalize_key,
    truncate_at_sentence,
)
from medimind_assets.data.safety import DosageRule, classify_safety, gives_dosage_instructions
from medimind_assets.data.sources import MEDIQA, MEDQUAD

SPLIT_SALT = "medimind-split-v1"
SPLITS = ("train", "validation", "test")
SOURCES = ("mediqa_qa", "medquad")


@dataclass(frozen=True)
class BuildOptions:
    validation_fraction: float = 0.1
    max_answer_chars: int = 4000
    min_answer_chars: int = 20
    dosage_rule: DosageRule = DosageRule.FLAG
    include_medquad: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")


@dataclass
class Candidate:
    source: str
    question_id: str
    answer_id: str
    question: str
    answer: str
    origin: str
    reference_score: int | None
    is_test: bool


@dataclass
class BuildResult:
    rows: list[dict]
    rejected: Counter = field(default_factory=Counter)
    truncated: int = 0

    def count_by(self, key: str) -> dict[str, int]:
        return dict(sorted(Counter(str(row[key]) for row in self.rows).items()))


def _mediqa_candidates(raw_dir: Path, rejected: Counter) -> list[Candidate]:
    folder = raw_dir / MEDIQA / mediqa.TASK_DIR
    files = [(tag, name, False) for tag, name in mediqa.TRAINING_FILES.items()]
    files.append(("Test", mediqa.TEST_LABELLED_FILE, True))
    out: list[Candidate] = []
    for tag, name, is_test in files:
        path = folder / name
        for question in mediqa.parse_mediqa_file(path, require_scores=True):
            for answer in question.answers:
                if not answer.is_correct:
                    rejected["mediqa_incorrect_answer"] += 1
                    continue
                out.append(
                    Candidate(
                        source="mediqa_qa",
                        question_id=f"mediqa_qa:{tag}:{question.qid}",
                        answer_id=answer.aid,
                        question=question.text,
                        answer=answer.text,
                        origin=f"{MEDIQA}/{mediqa.TASK_DIR}/{name}",
                        reference_score=answer.reference_score,
                        is_test=is_test,
                    )
                )
    return out


def _medquad_candidates(raw_dir: Path) -> list[Candidate]:
    root = raw_dir / MEDQUAD
    out: list[Candidate] = []
    for path in medquad.collection_files(root):
        for pair in medquad.parse_medquad_file(path):
            out.append(
                Candidate(
                    source="medquad",
                    question_id=f"medquad:{pair.question_key}",
                    answer_id=pair.question_key,
                    question=pair.question,
                    answer=pair.answer,
                    origin=f"{MEDQUAD}/{path.relative_to(root).as_posix()}",
                    reference_score=None,
                    is_test=False,
                )
            )
    return out


def split_for(question_key: str, fraction: float) -> str:
    """Deterministic train/validation assignment of a question, stable when other questions come and go."""
    digest = hashlib.sha256(f"{SPLIT_SALT}:{question_key}".encode()).digest()
    return "validation" if int.from_bytes(digest[:8], "big") / 2**64 < fraction else "train"


def row_id(source: str, question_key: str, answer_key: str) -> str:
    return hashlib.sha256(f"{source}\x1f{question_key}\x1f{answer_key}".encode()).hexdigest()[:20]


def build_dataset(raw_dir: Path, options: BuildOptions | None = None) -> BuildResult:
    options = options or BuildOptions()
    rejected: Counter = Counter()
    candidates = _mediqa_candidates(raw_dir, rejected)
    if options.include_medquad:
        candidates += _medquad_candidates(raw_dir)
    # Test questions first: they claim their questions before any training row can.
    candidates.sort(key=lambda c: not c.is_test)
    test_questions = {normalize_key(clean_question(c.question)) for c in candidates if c.is_test}
    # The same page text answers several questions; a test reference answer seen in training would make the
    # held-out loss look better than it is.
    test_answers = {normalize_key(clean_answer(c.answer, strip_prefix=True)) for c in candidates if c.is_test}

    rows: list[dict] = []
    seen_pairs: set[tuple[str, str]] = set()
    truncated = 0
    for cand in candidates:
        question = clean_question(cand.question)
        answer = clean_answer(cand.answer, strip_prefix=cand.source == "mediqa_qa")
        reason = junk_reason(question, answer, options.min_answer_chars)
        if reason:
            rejected[reason] += 1
            continue
        q_key, a_key = normalize_key(question), normalize_key(answer)
        if not q_key:
            rejected["empty_question"] += 1
            continue
        if not cand.is_test and q_key in test_questions:
            rejected["overlaps_test_question"] += 1
            continue
        if not cand.is_test and a_key in test_answers:
            rejected["overlaps_test_answer"] += 1
            continue
        if (q_key, a_key) in seen_pairs:
            rejected["duplicate_pair"] += 1
            continue
        if options.dosage_rule is DosageRule.REJECT and gives_dosage_instructions(answer):
            rejected["dosage_instructions"] += 1
            continue
        answer, was_cut = truncate_at_sentence(answer, options.max_answer_chars)
        truncated += was_cut
        seen_pairs.add((q_key, a_key))
        rows.append(
            {
                "id": row_id(cand.source, q_key, a_key),
                "question_id": cand.question_id,
                "instruction": question,
                "response": answer,
                "source": cand.source,
                "safety_level": classify_safety(question, answer, options.dosage_rule),
                "split": "test" if cand.is_test else split_for(q_key, options.validation_fraction),
                "answer_id": cand.answer_id,
                "reference_score": cand.reference_score,
                "origin": cand.origin,
            }
        )
    _ensure_validation(rows, options.validation_fraction)
    rows.sort(key=lambda r: (SPLITS.index(r["split"]), r["source"], r["question_id"], r["id"]))
    return BuildResult(rows=rows, rejected=rejected, truncated=truncated)


def _ensure_validation(rows: list[dict], fraction: float) -> None:
    """With a small dataset the hash may put no question in validation: move the lowest-hash question there."""
    if fraction <= 0 or any(r["split"] == "validation" for r in rows):
        return
    train_keys = sorted({normalize_key(r["instruction"]) for r in rows if r["split"] == "train"})
    if len(train_keys) < 2:
        return
    chosen = min(train_keys, key=lambda k: hashlib.sha256(f"{SPLIT_SALT}:{k}".encode()).digest())
    for row in rows:
        if row["split"] == "train" and normalize_key(row["instruction"]) == chosen:
            row["split"] = "validation"

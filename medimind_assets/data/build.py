"""Build the training dataset rows from the raw sources: select, clean, classify, deduplicate and split.

Pure code (no Dagster): `build_dataset(raw_dir, options)` returns the rows and every rejected row counted under a
named reason. The MEDIQA 2019 test set becomes the `test` split and nothing resembling one of its questions
(compared after normalisation) reaches `train` or `validation`, nor does any of its reference answers.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from medimind_assets.data import mediqa, medquad
from medimind_assets.data.alignment import answers_that_fit
from medimind_assets.data.boilerplate import repair_question, scrub_answer
from medimind_assets.data.cleaning import (
    clean_answer,
    clean_question,
    compact_key,
    junk_reason,
    names_nothing,
    normalize_key,
    normalize_whitespace,
    truncate_at_sentence,
)
from medimind_assets.data.errors import RawDataError, raise_collected
from medimind_assets.data.overlap import COMMON_IN_ANSWERS, NearTestQuestions, ShingleIndex, shingles
from medimind_assets.data.recurring import RecurringText
from medimind_assets.data.rows import SPLITS, DatasetRow
from medimind_assets.data.safety import DosageRule, classify_safety, gives_dosage_instructions
from medimind_assets.data.segments import Segment
from medimind_assets.data.sentence_rules import drop_trailing_headings
from medimind_assets.data.sources import MEDIQA, MEDQUAD
from medimind_assets.options import option

SPLIT_SALT = "medimind-split-v1"


@dataclass(frozen=True)
class BuildOptions:
    """How the dataset is built; validated together on construction."""

    validation_fraction: float = option(0.1, "Share of (non-test) questions held out for validation.")
    max_answer_chars: int = option(
        4000, "Longer answers are cut at the last sentence or list-item end before this (at least 200)."
    )
    min_answer_chars: int = option(20, "Shorter answers are rejected as junk.")
    dosage_rule: DosageRule = option(
        DosageRule.FLAG, "Answers with dosage instructions: flag (mark caution), reject, or off."
    )
    include_medquad: bool = option(True, "Add MedQuAD pairs to the MEDIQA ones.")
    # One identical answer given to many questions (GHR's inheritance paragraphs) teaches the model one text.
    max_questions_per_answer: int = option(
        3, "An identical training answer is kept for at most this many questions (chosen by a salted hash)."
    )
    test_similarity_threshold: float = option(
        0.5,
        "Training answers at least this similar (5-gram containment, see data/overlap.py) to a MEDIQA test "
        "candidate answer are dropped.",
    )

    def __post_init__(self) -> None:
        problems = []
        try:
            object.__setattr__(self, "dosage_rule", DosageRule(self.dosage_rule))
        except ValueError:
            choices = ", ".join(rule.value for rule in DosageRule)
            problems.append(f"dosage_rule must be one of {choices}, got {self.dosage_rule!r}")
        if not 0.0 <= self.validation_fraction < 1.0:
            problems.append(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        if self.min_answer_chars < 1:
            problems.append(f"min_answer_chars must be at least 1, got {self.min_answer_chars}")
        if self.max_answer_chars < max(200, self.min_answer_chars):
            problems.append(
                f"max_answer_chars must be at least 200 and at least min_answer_chars, got {self.max_answer_chars}"
            )
        if self.max_questions_per_answer < 1:
            problems.append(f"max_questions_per_answer must be at least 1, got {self.max_questions_per_answer}")
        if not 0.0 < self.test_similarity_threshold <= 1.0:
            problems.append(f"test_similarity_threshold must be in (0, 1], got {self.test_similarity_threshold}")
        if problems:
            raise ValueError("; ".join(problems))


def _collection(source: str, origin: str) -> str:
    """`mediqa_qa`, or the MedQuAD collection folder (`2_GARD_QA`)."""
    return source if source == "mediqa_qa" else origin.split("/")[1]


@dataclass
class Candidate:
    source: str
    question_id: str
    answer_id: str
    question: str
    answer: str
    origin: str
    reference_score: int | None = None  # MEDIQA's
    is_test: bool = False
    qtype: str = ""  # MedQuAD's question type (information, symptoms, treatment, ...)

    @property
    def collection(self) -> str:
        return _collection(self.source, self.origin)


@dataclass
class BuildResult:
    rows: list[DatasetRow]
    rejected: Counter = field(default_factory=Counter)
    repaired: Counter = field(default_factory=Counter)
    truncated: int = 0
    # Per collection (`mediqa_qa`, `1_CancerGov_QA`, ...): files, pairs, rows, rejected/<reason>, repaired/<reason>.
    collections: dict[str, Counter] = field(default_factory=dict)
    # Up to two examples of each repair: collection, origin, repair, question and answer before and after.
    repair_samples: list[dict] = field(default_factory=list)
    # The segments that recur across a collection's answers (data/recurring.py), with counts and an example.
    recurring: list[dict] = field(default_factory=list)
    # Up to two examples of each rejection reason: collection, origin, reason, question and answer.
    rejection_samples: list[dict] = field(default_factory=list)

    def reject(self, collection: str, reason: str, origin: str, question: str, answer: str) -> None:
        """Count a rejected candidate under its reason, and keep it as an example while the reason has few."""
        self.collections[collection][f"rejected/{reason}"] += 1
        if sum(s["reason"] == reason for s in self.rejection_samples) < 2:
            question, answer = normalize_whitespace(question)[:200], normalize_whitespace(answer)[:300]
            self.rejection_samples.append(
                dict(collection=collection, origin=origin, reason=reason, question=question, answer=answer)
            )

    def reject_item(self, item: Prepared, reason: str) -> None:
        self.reject(item.cand.collection, reason, item.cand.origin, item.question, item.answer)

    def count_by(self, key: str) -> dict[str, int]:
        return dict(sorted(Counter(str(row[key]) for row in self.rows).items()))


def _mediqa_candidates(raw_dir: Path, stats: Counter, errors: list[RawDataError]) -> tuple[list[Candidate], list[str]]:
    """The correct answers of every labelled MEDIQA file, and the text of every test candidate answer; a file that
    cannot be read is added to `errors`."""
    out: list[Candidate] = []
    test_texts: list[str] = []
    errors += [
        RawDataError(path, mediqa.UNKNOWN_FILE) for path in mediqa.unknown_files(raw_dir / MEDIQA / mediqa.TASK_DIR)
    ]
    for tag, name in [*mediqa.TRAINING_FILES.items(), ("Test", mediqa.TEST_LABELLED_FILE)]:
        is_test = tag == "Test"
        stats["files"] += 1
        origin = f"{MEDIQA}/{mediqa.TASK_DIR}/{name}"
        try:
            questions = mediqa.parse_mediqa_file(raw_dir / origin, require_scores=True)
        except RawDataError as exc:
            errors.append(exc)
            continue
        for question in questions:
            for answer in question.answers:
                stats["pairs"] += 1
                if is_test:
                    test_texts.append(answer.text)
                if not answer.is_correct:
                    stats["rejected/mediqa_incorrect_answer"] += 1
                    continue
                qid, score = f"mediqa_qa:{tag}:{question.qid}", answer.reference_score
                out.append(Candidate("mediqa_qa", qid, answer.aid, question.text, answer.text, origin, score, is_test))
    return out, test_texts


def _medquad_candidates(raw_dir: Path, collections: dict[str, Counter]) -> list[Candidate]:
    root = raw_dir / MEDQUAD
    out: list[Candidate] = []
    for path, pairs in medquad.parse_collections(root).items():
        stats = collections.setdefault(path.parent.name, Counter())
        stats["files"] += 1
        stats["pairs"] += len(pairs)
        origin = f"{MEDQUAD}/{path.relative_to(root).as_posix()}"
        out += [
            Candidate(
                "medquad", f"medquad:{p.question_key}", p.question_key, p.question, p.answer, origin, qtype=p.qtype
            )
            for p in pairs
        ]
    return out


def split_for(question_key: str, fraction: float) -> str:
    """Deterministic train/validation assignment of a question, stable when other questions come and go."""
    return "validation" if int.from_bytes(_question_rank(question_key)[:8], "big") / 2**64 < fraction else "train"


def row_id(source: str, question_key: str, answer_key: str) -> str:
    return hashlib.sha256(f"{source}\x1f{question_key}\x1f{answer_key}".encode()).hexdigest()[:20]


def _question_rank(question_key: str) -> bytes:
    return hashlib.sha256(f"{SPLIT_SALT}:{question_key}".encode()).digest()


def build_dataset(raw_dir: Path, options: BuildOptions | None = None) -> BuildResult:
    options = options or BuildOptions()
    collections: dict[str, Counter] = {"mediqa_qa": Counter()}
    # Every unreadable file of both sources reported together: fixing one must not only reveal the next.
    errors: list[RawDataError] = []
    candidates, test_texts = _mediqa_candidates(raw_dir, collections["mediqa_qa"], errors)
    if options.include_medquad:
        try:
            candidates += _medquad_candidates(raw_dir, collections)
        except RawDataError as exc:
            errors.append(exc)
    raise_collected(errors)
    # Test questions first: they claim their questions before any training row can.
    candidates.sort(key=lambda c: not c.is_test)
    # Every test question, with a correct answer or not, in the labelled file or only in the unlabelled one.
    test_questions = NearTestQuestions(mediqa.test_questions(raw_dir / MEDIQA))
    # The same page text answers several questions: a test candidate answer (correct or not) seen in training,
    # verbatim or nearly (data/overlap.py), would make the held-out numbers look better than they are.
    test_answers = [normalize_key(clean_answer(text, strip_prefix=True)) for text in test_texts]
    test_answer_keys = set(test_answers)

    result = BuildResult(rows=[], collections=collections)
    prepared = []
    for cand in candidates:
        reason, item = _prepare(cand, options)
        if reason:
            result.reject(cand.collection, reason, cand.origin, cand.question, cand.answer)
        else:
            prepared.append(item)
    prepared = _remove_recurring_text(prepared, result, options.min_answer_chars)
    prepared = _align_answers(prepared, result)
    seen_pairs: set[tuple[str, str]] = set()
    for item in prepared:
        reason, row = _finish_row(item, options, result, test_questions, test_answer_keys, seen_pairs)
        if reason:
            result.reject_item(item, reason)
        else:
            result.rows.append(row)
    answer_keys = {row["id"]: normalize_key(row["response"]) for row in result.rows if row["split"] != "test"}
    _drop_near_test_answers(result, answer_keys, test_answers, options.test_similarity_threshold)
    _cap_shared_answers(result, answer_keys, options.max_questions_per_answer)
    for stats in collections.values():
        for key, value in list(stats.items()):
            if key.startswith("rejected/"):
                result.rejected[key.removeprefix("rejected/")] += value
            elif key.startswith("repaired/"):
                result.repaired[key.removeprefix("repaired/")] += value
    for row in result.rows:
        collections[_collection(row["source"], row["origin"])]["rows"] += 1
    _one_split_per_question(result.rows)
    _shared_answers_train(result.rows, answer_keys)
    _ensure_validation(result.rows, options.validation_fraction, answer_keys)
    result.rows.sort(key=lambda r: (SPLITS.index(r["split"]), r["source"], r["question_id"], r["id"]))
    return result


@dataclass
class Prepared:
    """A candidate cleaned and scrubbed, not yet a row: its question, answer and the repairs made so far."""

    cand: Candidate
    question: str
    answer: str
    repairs: list[str]
    segments: list[Segment] | None = None  # the answer's, when the scrub had them at hand


def _prepare(cand: Candidate, options: BuildOptions) -> tuple[str | None, Prepared | None]:
    """Clean the question and answer and apply the boilerplate rules: (rejection reason, None) or (None, item)."""
    question = clean_question(cand.question)
    answer = clean_answer(cand.answer, strip_prefix=cand.source == "mediqa_qa")
    repairs: list[str] = []
    if reason := junk_reason(question, answer, options.min_answer_chars):
        return reason, None
    if cand.source == "medquad":  # MEDIQA's consumer questions stay as they were asked
        question, question_repairs = repair_question(question)
        repairs += [f"question_{name}" for name in question_repairs]
    segments = None
    if not cand.is_test:  # test references stay as the benchmark has them
        scrubbed = scrub_answer(question, answer, options.min_answer_chars)
        repairs += scrubbed.repairs
        if scrubbed.rejected:
            return scrubbed.rejected, None
        answer, segments = scrubbed.text, scrubbed.segments
    if reason := junk_reason(question, answer, options.min_answer_chars):
        return reason, None
    if not normalize_key(question):
        return "empty_question", None
    if cand.source == "medquad" and names_nothing(question):
        return "question_names_nothing", None
    return None, Prepared(cand, question, answer, repairs, segments)


def _remove_recurring_text(prepared: list[Prepared], result: BuildResult, min_chars: int) -> list[Prepared]:
    """Count the segments of each collection's training answers; remove the page template (data/recurring.py)."""
    recurring = RecurringText()
    for item in prepared:
        if not item.cand.is_test:
            recurring.observe(item.cand.collection, item.answer, item.cand.origin, item.segments)
    result.recurring = recurring.report()
    templates = {name: recurring.template(name) for name in recurring.answers}
    kept = []
    for item in prepared:
        if not item.cand.is_test:
            item.answer, changed = recurring.remove(item.answer, templates[item.cand.collection])
            if changed:
                item.repairs.append("recurring_template")
                if len(item.answer) < min_chars:
                    result.reject_item(item, "boilerplate_only")
                    continue
        kept.append(item)
    return kept


def _align_answers(prepared: list[Prepared], result: BuildResult) -> list[Prepared]:
    """Where one question text has several answers in a collection, keep those that answer it
    (data/alignment.py); count the rest under `answers_other_question`."""
    groups: dict[tuple[str, str], list[Prepared]] = defaultdict(list)
    for item in prepared:
        if not item.cand.is_test and item.cand.source == "medquad":
            groups[(item.cand.collection, normalize_key(item.question))].append(item)
    off: set[int] = set()
    for items in groups.values():
        if len(items) > 1:
            keep = answers_that_fit([(i.question, i.answer, i.cand.qtype) for i in items])
            off.update(id(item) for item, fits in zip(items, keep, strict=False) if not fits)
    for item in prepared:
        if id(item) in off:
            result.reject_item(item, "answers_other_question")
    return [item for item in prepared if id(item) not in off]


def _finish_row(
    item: Prepared,
    options: BuildOptions,
    result: BuildResult,
    test_questions: NearTestQuestions,
    test_answer_keys: set[str],
    seen_pairs: set[tuple[str, str]],
) -> tuple[str | None, dict | None]:
    """(rejection reason, None) or (None, the row). Repairs are counted in `result` as rows are kept."""
    cand, question, answer = item.cand, item.question, item.answer
    stats = result.collections[cand.collection]
    q_key, a_key = normalize_key(question), normalize_key(answer)
    if not cand.is_test:
        if reason := test_questions.match(question):
            return reason, None
        if a_key in test_answer_keys:
            return "overlaps_test_answer", None
    if (q_key, a_key) in seen_pairs:
        return "duplicate_pair", None
    if options.dosage_rule is DosageRule.REJECT and gives_dosage_instructions(answer):
        return "dosage_instructions", None
    cut, was_cut = truncate_at_sentence(answer, options.max_answer_chars)
    if was_cut:
        cut = drop_trailing_headings(cut)
    if was_cut and len(cut) < options.min_answer_chars:
        return "too_long_to_cut", None
    result.truncated += was_cut
    seen_pairs.add((q_key, a_key))
    for name in item.repairs:
        stats[f"repaired/{name}"] += 1
        if sum(s["repair"] == name for s in result.repair_samples) < 2:
            sample = {"collection": cand.collection, "origin": cand.origin, "repair": name}
            sample |= {"question_before": cand.question.strip(), "question": question}
            sample |= {"answer_before": normalize_whitespace(cand.answer)[:300], "answer": answer[:300]}
            result.repair_samples.append(sample)
    row = {
        "id": row_id(cand.source, q_key, a_key),
        "question_id": cand.question_id,
        "instruction": question,
        "response": cut,
        "source": cand.source,
        "safety_level": classify_safety(question, cut, options.dosage_rule),
        "split": "test" if cand.is_test else split_for(q_key, options.validation_fraction),
        "answer_id": cand.answer_id,
        "reference_score": cand.reference_score,
        "origin": cand.origin,
    }
    return None, row


def _drop_near_test_answers(
    result: BuildResult, answer_keys: dict[str, str], test_answers: list[str], threshold: float
) -> None:
    """Drop training rows whose answer nearly equals, contains or is contained in a test candidate answer.

    Common shingles are counted over the distinct answers that are published, so the rule holds on the published
    file itself: dropping rows can make a shingle uncommon again, hence the rounds until nothing changes (each
    round re-checks only the rows holding a shingle that became uncommon).
    """
    grams = {row_id: shingles(key) for row_id, key in answer_keys.items()}
    distinct = {key: row_id for row_id, key in answer_keys.items()}
    counts = Counter(chain.from_iterable(grams[row_id] for row_id in distinct.values()))
    common = {gram for gram, n in counts.items() if n >= COMMON_IN_ANSWERS}
    to_check, dropped = set(grams), set()
    index = ShingleIndex(shingles(key) for key in test_answers)
    while to_check:
        index.ignore(common)
        more = {row_id for row_id in to_check if index.best_match(grams[row_id])[0] >= threshold}
        dropped |= more
        published = {key for row_id, key in answer_keys.items() if row_id not in dropped}
        for key in [key for key in distinct if key not in published]:
            counts.subtract(grams[distinct.pop(key)])
        now_common = {gram for gram in common if counts[gram] >= COMMON_IN_ANSWERS}
        freed, common = common - now_common, now_common
        to_check = {row_id for row_id in grams if row_id not in dropped and not grams[row_id].isdisjoint(freed)}
    _drop(result, dropped, "near_test_answer")


def _drop(result: BuildResult, ids: set[str], reason: str) -> None:
    for row in result.rows:
        if row["id"] in ids:
            collection = _collection(row["source"], row["origin"])
            result.reject(collection, reason, row["origin"], row["instruction"], row["response"])
    result.rows = [row for row in result.rows if row["id"] not in ids]


def _cap_shared_answers(result: BuildResult, answer_keys: dict[str, str], limit: int) -> None:
    """Keep an identical training answer for at most `limit` questions (the test split is never touched)."""
    by_answer: dict[str, list[dict]] = defaultdict(list)
    for row in result.rows:
        if row["split"] != "test":
            by_answer[answer_keys[row["id"]]].append(row)
    dropped: set[str] = set()
    for rows in by_answer.values():
        if len(rows) > limit:
            rows.sort(key=lambda r: _question_rank(normalize_key(r["instruction"])))
            dropped.update(r["id"] for r in rows[limit:])
    _drop(result, dropped, "answer_shared_too_widely")


def _shared_answers_train(rows: list[dict], answer_keys: dict[str, str]) -> None:
    """An answer given to questions of both splits trains (with each of those questions' variants): a validation
    question whose reference is a training target measures memory, not what the model learned."""
    questions = {r["id"]: compact_key(r["instruction"]) for r in rows if r["split"] != "test"}
    while True:  # a moved question brings its other answers to train: until nothing more moves
        trained = {answer_keys[r["id"]] for r in rows if r["split"] == "train"}
        moved = {questions[r["id"]] for r in rows if r["split"] == "validation" and answer_keys[r["id"]] in trained}
        if not moved:
            return
        for row in rows:
            if row["split"] == "validation" and questions[row["id"]] in moved:
                row["split"] = "train"


def _one_split_per_question(rows: list[dict]) -> None:
    """Questions that differ only in where a space falls ("branchio-oculo-facial", "branchiooculofacial") are one
    question: all go to the split of the one that ranks first, as a single question would."""
    variants: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row["split"] != "test":
            variants[compact_key(row["instruction"])].add(normalize_key(row["instruction"]))
    chosen = {}
    for compact, keys in variants.items():
        if len(keys) > 1:
            first = min(keys, key=_question_rank)
            chosen[compact] = next(
                r["split"] for r in rows if r["split"] != "test" and normalize_key(r["instruction"]) == first
            )
    for row in rows:
        if row["split"] != "test" and (split := chosen.get(compact_key(row["instruction"]))):
            row["split"] = split


def _ensure_validation(rows: list[dict], fraction: float, answer_keys: dict[str, str] | None = None) -> None:
    """With a small dataset the hash may put no question in validation: move the lowest-hash question there, of
    those whose answers no other question trains on (`_shared_answers_train`)."""
    if fraction <= 0 or any(r["split"] == "validation" for r in rows):
        return
    askers: dict[str, set[str]] = defaultdict(set)
    for r in rows if answer_keys is not None else ():
        if r["split"] == "train":
            askers[answer_keys[r["id"]]].add(compact_key(r["instruction"]))
    shared = {key for keys in askers.values() if len(keys) > 1 for key in keys}
    train_keys = sorted({normalize_key(r["instruction"]) for r in rows if r["split"] == "train"})
    if len({compact_key(key) for key in train_keys}) < 2:  # one question (with its variants): it stays to train on
        return
    candidates = [key for key in train_keys if compact_key(key) not in shared] or train_keys
    chosen = compact_key(min(candidates, key=_question_rank))  # with its variants (`_one_split_per_question`)
    for row in rows:
        if row["split"] == "train" and compact_key(row["instruction"]) == chosen:
            row["split"] = "validation"

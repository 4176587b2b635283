"""Parse MEDIQA 2019 Task 3 (question answering) XML files and ground-truth label files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from medimind_assets.data.errors import RawDataError
from medimind_assets.data.xml_reader import check_children, line_of, parse_xml, refuse_repeat, text_of

TASK_DIR = "MEDIQA_Task3_QA"
TRAINING_FILES = {
    "LiveQAMed": "MEDIQA2019-Task3-QA-TrainingSet1-LiveQAMed.xml",
    "Alexa": "MEDIQA2019-Task3-QA-TrainingSet2-Alexa.xml",
    "Validation": "MEDIQA2019-Task3-QA-ValidationSet.xml",
}
UNKNOWN_FILE = (
    "an XML file in the MEDIQA 2019 Task 3 folder that is none of the task's files: its questions would be silently "
    "left out (and the source's version would still change); remove it, or add its pairs as a MedQuAD collection"
)
# The files of the 2019 training split (`Validation` is the task's validation set).
TRAIN_SPLIT_TAGS = ("LiveQAMed", "Alexa")
TEST_LABELLED_FILE = "MEDIQA2019-Task3-QA-TestSet-wLabels.xml"
TEST_UNLABELLED_FILE = "MEDIQA2019-Task3-QA-TestSet.xml"
VALIDATION_GROUND_TRUTH = "Eval_Scripts/data/QA_validationSet_ground_truth.txt"
TEST_GROUND_TRUTH = "Eval_Scripts/data/QA_testSet_ground_truth_round_2.txt"

# Answers scored 3 (correct but incomplete) or 4 (excellent) are the correct ones (label 1 in the task).
CORRECT_SCORES = frozenset({3, 4})
# "4", or the older upstream spelling "4-Excellent" / "3 - Correct but Incomplete".
_SCORE = re.compile(r"^\s*([1-4])\s*(?:-\s*[A-Za-z][A-Za-z ]*)?\s*$")


@dataclass(frozen=True)
class MediqaAnswer:
    aid: str
    text: str
    system_rank: int | None
    reference_rank: int | None
    reference_score: int | None

    @property
    def is_correct(self) -> bool:
        return self.reference_score in CORRECT_SCORES


@dataclass(frozen=True)
class MediqaQuestion:
    qid: str
    text: str
    answers: list[MediqaAnswer]


def parse_score(path: Path, value: str, aid: str, line: int | None) -> int:
    match = _SCORE.match(value)
    if not match:
        raise RawDataError(path, f'Answer AID="{aid}": ReferenceScore="{value}" is not a score from 1 to 4', line)
    return int(match.group(1))


def _parse_rank(path: Path, value: str | None, name: str, aid: str, line: int | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise RawDataError(path, f'Answer AID="{aid}": {name}="{value}" is not an integer', line) from None


def parse_mediqa_file(path: Path, require_scores: bool = False) -> list[MediqaQuestion]:
    """Every question with its candidate answers, in file order.

    With `require_scores`, an answer without `ReferenceScore` is an error: training, validation and labelled
    test files must carry the manual judgement, or correct and incorrect answers cannot be told apart.
    """
    root = parse_xml(path)
    questions: list[MediqaQuestion] = []
    lines: dict[str, int | None] = {}  # QID -> its line: a QID keys the question's rows and its ground truth
    for q_elem in root:
        if q_elem.tag != "Question":
            raise RawDataError(path, f"unexpected element <{q_elem.tag}> (expected <Question>)", line_of(q_elem))
        qid = q_elem.get("QID", "").strip()
        if not qid:
            raise RawDataError(path, "<Question> without a QID attribute", line_of(q_elem))
        refuse_repeat(path, f'QID="{qid}"', lines, qid, line_of(q_elem))
        check_children(path, q_elem, {"QuestionText", "AnswerList"}, once=frozenset({"QuestionText"}))
        answers: list[MediqaAnswer] = []
        answer_lines: dict[str, int | None] = {}
        for list_elem in q_elem.findall("AnswerList"):
            check_children(path, list_elem, {"Answer"})
            for a_elem in list_elem:
                answer = _parse_answer(path, a_elem, require_scores)
                refuse_repeat(path, f'QID="{qid}": AID="{answer.aid}"', answer_lines, answer.aid, line_of(a_elem))
                answers.append(answer)
        questions.append(MediqaQuestion(qid, text_of(q_elem.find("QuestionText")), answers))
    if not questions:
        raise RawDataError(path, f"no <Question> elements under <{root.tag}>")
    return questions


def _parse_answer(path: Path, elem, require_scores: bool) -> MediqaAnswer:
    line = line_of(elem)
    aid = elem.get("AID", "").strip()
    if not aid:
        raise RawDataError(path, "<Answer> without an AID attribute", line)
    check_children(path, elem, {"AnswerURL", "AnswerText"}, once=frozenset({"AnswerURL", "AnswerText"}))
    raw_score = elem.get("ReferenceScore")
    if raw_score is None and require_scores:
        raise RawDataError(path, f'Answer AID="{aid}" has no ReferenceScore; this file must be labelled', line)
    return MediqaAnswer(
        aid=aid,
        text=text_of(elem.find("AnswerText")),
        system_rank=_parse_rank(path, elem.get("SystemRank"), "SystemRank", aid, line),
        reference_rank=_parse_rank(path, elem.get("ReferenceRank"), "ReferenceRank", aid, line),
        reference_score=None if raw_score is None else parse_score(path, raw_score, aid, line),
    )


def unknown_files(task_dir: Path) -> list[Path]:
    """The XML files in the task folder that the build does not read (a file added by hand, a renamed copy)."""
    known = {*TRAINING_FILES.values(), TEST_LABELLED_FILE, TEST_UNLABELLED_FILE}
    if not task_dir.is_dir():
        return []
    return sorted(p for p in task_dir.iterdir() if p.suffix.lower() == ".xml" and p.name not in known)


def test_questions(raw_mediqa_dir: Path) -> list[str]:
    """Question texts of the MEDIQA 2019 test set (labelled and unlabelled files), which must never be trained on."""
    files = [raw_mediqa_dir / TASK_DIR / name for name in (TEST_LABELLED_FILE, TEST_UNLABELLED_FILE)]
    return [q.text for path in files if path.is_file() for q in parse_mediqa_file(path)]

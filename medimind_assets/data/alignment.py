"""Question-answer alignment: where one question text has several answers in a collection (a page cut into sections,
each filed under the same "What is X?"), keep those that answer it. The rules (`anatomy`, `summary`, `other_kind`)
and their measured precision: `docs/dataset.md`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_ORGANS = (
    r"kidneys?|urinary tract|bladder|urethra|ureters?|liver|pancreas|thyroid(?: gland)?|parathyroid glands?|"
    r"adrenal glands?|pituitary(?: gland)?|heart|lungs?|colon|large intestine|small intestine|intestines?|bowel|"
    r"digestive (?:tract|system)|gi tract|stomach|esophagus|oesophagus|cornea|retina|lens|eyes?|brain|spinal cord|"
    r"nervous system|prostate|gallbladder|skin|bones?|spine|nerves?|blood vessels|arteries|veins|immune system|"
    r"lymph(?:atic)? system|uterus|ovaries|testicles|mouth|teeth|gums|ears?|inner ear|joints?|muscles?|"
    r"endocrine system|glands?"
)
_ANATOMY = re.compile(
    rf"^(?:the|your|a|an|each|our)(?: two| human| normal)? (?:{_ORGANS})(?: \(\w+\))?"
    r"(?: (?:is|are|consists?|has|have|makes?|make up|sits?|lies|lie|is located|are located|is made|are made|"
    r"works?|helps?|produces?|contains?)\b)",
    re.IGNORECASE,
)
_SUMMARY_FIRST_ITEM = re.compile(r"^-\s+\S[^.]{0,200}\b(?:is|are|means|refers to|happens when|occurs when)\b", re.I)
_ACTION = re.compile(
    r"\b(?:treat\w*|eat\w*|diet\w*|drink\w*|avoid\w*|take|taking|should|talk (?:to|with)|call|see (?:a|your)|"
    r"manag\w*|limit\w*|exercis\w*|medicines?|medications?|surgery|therap\w*|help\w*|reduce|lower|stop|quit)\b",
    re.IGNORECASE,
)
# Openings of each kind of answer, as MedQuAD names the kinds (`qtype`).
_KINDS: dict[str, re.Pattern[str]] = {
    kind: re.compile(pattern, re.IGNORECASE)
    for kind, pattern in {
        "prevention": r"\b(?:reduc|lower)\w* (?:\w+ ){0,2}(?:risk|chances?)|\bprevent\w*|\bprotective\b|\bavoid\w*",
        "susceptibility": r"\brisks?\b|\bmore likely to (?:get|develop|have)\b|\b(?:your|the) chances? of "
        r"(?:getting|developing|having)\b|\bcommon (?:in|among)\b|\bolder (?:people|adults)\b",
        "treatment": r"\btreat(?:ment|ments|ed|ing)?\b|\btherap(?:y|ies)\b|\bsurgery\b|\bmedicines?\b|\bmedications?\b",
        "exams and tests": r"\bdiagnos\w*|\btests?\b|\bexam(?:s|ination)?\b|\bdetect(?:ed|s)?\b|\bscan\b|\bbiopsy\b",
        "symptoms": r"\bsymptoms?\b|\bsigns?\b|\bfeel\b|\bnotice\b",
        "causes": r"\bcaus\w*|\bresults? from\b|\bdue to\b|\bmutations?\b|\btriggers?\b|\bleads? to\b",
        "research": r"\bresearch\w*|\bclinical trials?\b|\bstud(?:y|ies|ying)\b|\bscientists?\b",
    }.items()
}
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def _opening(answer: str) -> str:
    text = answer.lstrip("- ").strip()
    match = _SENTENCE.match(text)
    return match.group(0) if match else text


def reasons_against(answer: str, qtype: str) -> list[str]:
    """Why `answer` does not answer a question of MedQuAD type `qtype` (empty when it may)."""
    opening = _opening(answer)
    reasons = []
    if qtype in ("information", "considerations") and _ANATOMY.match(opening):
        reasons.append("anatomy")
    if qtype == "considerations" and _SUMMARY_FIRST_ITEM.match(answer.strip()) and not _ACTION.search(answer[:700]):
        reasons.append("summary")
    own = _KINDS.get(qtype)
    if own and not own.search(opening) and any(p.search(opening) for kind, p in _KINDS.items() if kind != qtype):
        reasons.append("other_kind")
    return reasons


def answers_that_fit(group: Sequence[tuple[str, str, str]]) -> list[bool]:
    """For (question, answer, qtype) triples sharing one question text: which to keep. An answer with no reason
    against it is kept; the best-fitting one is kept in any case."""
    against = [len(reasons_against(answer, qtype)) for _, answer, qtype in group]
    best = min(range(len(group)), key=against.__getitem__)
    return [count == 0 or i == best for i, count in enumerate(against)]

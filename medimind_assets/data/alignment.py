"""Question-answer alignment: where one question text has several answers in a collection (a page cut into sections,
each filed under the same "What is X?"), keep those that answer it.

A section is counted under `answers_other_question`, not trained on, when its opening plainly answers something
else. The rules are conservative (an answer that might answer the question stays), measured on a hand-checked
sample (docs/dataset.md):
- `anatomy`: "What is X?" (or "What to do for X?") opened with a description of an organ ("The kidneys are two
  bean-shaped organs ...", "The thyroid is a 2-inch-long, butterfly-shaped gland ..."): background, not X;
- `summary`: "What to do for X?" answered with a page's key-points summary (a list whose first item says what X
  is) that gives nothing to do;
- `other_kind`: the opening sentence is of another kind than the question's MedQuAD type (`qtype`) and has none of
  its own kind: "Who is at risk for X?" opened with how to lower the risk, "How to prevent X?" with its causes,
  "What are the symptoms of X?" with how X is detected.
Every group keeps at least one answer: the one that fits best (fewest rules against it, then first in the file).
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


def reasons_against(question: str, answer: str, qtype: str) -> list[str]:
    """Why `answer` does not answer `question` (empty when it may)."""
    opening = _opening(answer)
    reasons = []
    if qtype in ("information", "considerations") and _ANATOMY.match(opening):
        reasons.append("anatomy")
    if (
        qtype == "considerations"
        and _SUMMARY_FIRST_ITEM.match(answer.strip())
        and not _ACTION.search(answer[:700])
    ):
        reasons.append("summary")
    own = _KINDS.get(qtype)
    if own is not None and not own.search(opening):
        others = [kind for kind, pattern in _KINDS.items() if kind != qtype and pattern.search(opening)]
        if others:
            reasons.append("other_kind")
    return reasons


def answers_that_fit(group: Sequence[tuple[str, str, str]]) -> list[bool]:
    """For (question, answer, qtype) triples sharing one question text: which to keep. An answer with no reason
    against it is kept; the best-fitting one is kept in any case."""
    against = [len(reasons_against(q, a, t)) for q, a, t in group]
    best = min(range(len(group)), key=against.__getitem__)
    return [count == 0 or i == best for i, count in enumerate(against)]

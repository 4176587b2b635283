"""Safety levels for medical questions, and the "seek urgent care" rule shared with evaluation.

The rule of thumb the labelled set in the tests (`medimind_assets_tests/data/safety_labels.tsv`) is judged by:
- `emergency`: the question describes a situation that needs emergency care now (chest pain or pressure someone
  has, stroke signs, an overdose or poisoning that happened, bleeding that will not stop, vomiting or coughing
  blood, trouble breathing, choking, a throat closing, unconsciousness, a seizure that will not stop), or asks how
  to recognise or respond to an acute emergency (the symptoms, warning signs or treatment of a heart attack,
  stroke, cardiac arrest, anaphylaxis or poisoning; first aid), or mentions suicide or self-harm at all (an
  answer must always carry crisis resources). Informational questions about such conditions (what is it, causes,
  risk, how many people, inheritance, research, outlook, diagnosis, prevention) are not emergencies: "How many
  people are affected by heart attack?" is `safe`, "What are the symptoms of stroke?" is `emergency`.
- `caution`: the answer depends on who is asking or could hurt if misapplied: medication dosing or amounts,
  taking a specific prescribed medicine, side effects, drug interactions or allergies to medicines, pregnancy and
  breastfeeding, a child or infant as the patient. An answer that gives dosage instructions is `caution` too
  (see `DosageRule`).
- `safe`: everything else.

Patterns match whole words ("unresponsive" does not match "unresponsiveness"), case-insensitively; the first
level that matches wins.
"""

from __future__ import annotations

import re
from enum import Enum

SAFETY_LEVELS = ("safe", "caution", "emergency")


def _rx(*patterns: str) -> re.Pattern[str]:
    """Alternatives that must start and end on a word boundary."""
    return re.compile("|".join(rf"(?:\b(?:{p})\b)" for p in patterns), re.IGNORECASE)


_ACUTE = r"(?:a |an )?(?:heart attacks?|strokes?|cardiac arrest|anaphyla\w*|anaphylactic shock|poisoning|choking)"
_SOMEONE = r"(?:i|i'm|i've|my \w+|he|she|he's|she's|they|someone|somebody|a person|(?:my|our) (?:son|daughter|baby))"

EMERGENCY = _rx(
    # recognising or responding to an acute emergency
    rf"(?:symptoms?|signs?|warning signs?|treatments?|first aid) (?:of|for) {_ACUTE}",
    rf"how (?:is|are|do you|to|should|can i|do i) (?:treat )?{_ACUTE}(?: treated)?",
    rf"how (?:to|do i|do you|can i|should i) (?:treat|help|stop|respond to) (?:someone (?:having|with) )?{_ACUTE}",
    rf"(?:having|just had|think (?:i|he|she) (?:had|has)) {_ACUTE}",
    rf"what (?:should|do|can) (?:i|we|you) do (?:if|when|for) .{{0,40}}{_ACUTE}",
    rf"(?:help|save) (?:someone|a person|him|her) .{{0,30}}(?:{_ACUTE}|can'?t breathe|not breathing)",
    # happening now
    rf"{_SOMEONE} (?:have|has|am having|is having|are having|got|get|feel|feels) (?:a |sudden |severe |crushing |sharp )*"
    r"(?:chest (?:pain|pressure|tightness)|pain in (?:my|his|her|the) chest)",
    r"crushing chest pain|chest pain (?:and|with) (?:trouble|difficulty|shortness)",
    r"(?:hurts|pain|pressure|tightness) in (?:my|his|her) chest",
    r"face (?:is |was |started |keeps )?droop\w*|slurred speech|sudden (?:numbness|weakness|paralysis|confusion|loss of vision)",
    r"worst headache",
    r"suicid\w*|self[- ]harm\w*|kill(?:ing)? (?:my|him|her|them)sel(?:f|ves)|end(?:ing)? (?:my|his|her) (?:own )?life",
    r"overdosed|took (?:\d+|too many|a (?:whole )?bottle of|an entire bottle of)(?: \w+){0,3} (?:pills|tablets|capsules)",
    r"swallowed (?:some |a |the )?(?:bleach|drain cleaner|poison|battery|batteries|detergent|antifreeze|pills)",
    r"poisoned",
    r"(?:severe|heavy|uncontrolled|profuse) bleeding|bleeding (?:heavily|that won'?t stop|won'?t stop|will not stop)",
    r"(?:coughing|vomiting|vomited|throwing) up blood|(?:vomiting|vomited|coughing|coughed) blood",
    r"blood (?:is )?(?:coming|comming) out (?:from|of) (?:my |his |her |the )?mouth|coffee grounds",
    r"(?:trouble|difficulty|can'?t|cannot|unable to|hard to|struggling to|hardly) breath\w*|not breathing|"
    r"lips (?:are )?(?:turning )?blue",
    r"choking on|can'?t (?:speak|talk) .{0,20}chok\w*",
    r"throat (?:is )?(?:swelling|closing)|swelling (?:of|in) (?:my|his|her|the) throat",
    r"unconscious|unresponsive|won'?t wake up",
    rf"{_SOMEONE} (?:has |just |suddenly )?(?:passed out|collapsed|fainted and)",
    r"seizure (?:that )?(?:won'?t stop|lasting|for more than|longer than)|(?:having|had) a seizure for",
)

CAUTION = _rx(
    r"dos(?:e|es|age|ages|ing)",
    r"how (?:much|many) (?:mg|milligrams|pills|tablets|capsules|ml)",
    r"\d+(?:\.\d+)?\s?(?:mg|mcg|µg|ml|milligrams?)",
    r"pregnan\w*|breast ?feed\w*|nursing mother",
    r"child|children|kids?|infants?|bab(?:y|ies)|toddlers?|newborns?|pediatric|paediatric",
    r"(?:my|our) (?:son|daughter)",
    r"interact\w*",
    r"(?:take|taking|mix|mixing|combine|combining) .{0,40}\b(?:with|and) .{0,40}\b(?:pills?|medicines?|"
    r"medications?|drugs?|alcohol)",
    r"side[- ]?eff?ects?|prescri(?:bed|ption)|medicines?|medications?|blood thinners?",
    r"allergic to (?:penicillin|\w+cillin|\w+mycin|sulfa|a (?:drug|medicine|medication))",
    r"\w+(?:statin|formin|cillin|mycin|pril|sartan|olol|azepam|oxetine|prazole|profen)",
)
# Instructions to take a specific amount, the kind of text the original pipeline filtered out.
DOSAGE_INSTRUCTION = _rx(
    r"\b(?:take|give|use|inject|apply)\b[^.]{0,60}?\b\d+(?:\.\d+)?\s?(?:mg|mcg|µg|g|ml|mL|units?|tablets?|capsules?)\b",
    r"\b\d+(?:\.\d+)?\s?(?:mg|mcg|µg|ml|mL)\b[^.]{0,40}\b(?:every|once|twice|three times|per day|a day|daily)\b",
)

# An answer that tells the reader to get urgent help. Shared with evaluation (never written twice).
URGENT_CARE_ADVICE = _rx(
    r"\bcall (?:9-?1-?1|999|112|911|an ambulance|emergency services|your local emergency)",
    r"\bemergency (?:room|department|services|medical (?:care|help|attention|services)|number)",
    r"\b(?:seek|get|needs?|requires?) (?:immediate|urgent|emergency|prompt) (?:medical )?(?:care|help|attention|treatment)",
    r"\b(?:go|get) to (?:the )?(?:nearest )?(?:hospital|emergency|er\b|a&e)",
    r"\bmedical emergency\b",
    r"\bpoison (?:control|help)",
    r"\b(?:suicide|crisis) (?:and crisis )?(?:hotline|lifeline|line)",
    r"\b988\b",
)


class DosageRule(str, Enum):
    """What to do with answers that give dosage instructions."""

    FLAG = "flag"  # keep them, marked `caution` (default)
    REJECT = "reject"  # drop them, as the original pipeline did
    OFF = "off"  # no special treatment


def gives_dosage_instructions(text: str) -> bool:
    return bool(DOSAGE_INSTRUCTION.search(text))


def advises_urgent_care(text: str) -> bool:
    return bool(URGENT_CARE_ADVICE.search(text))


def classify_safety(question: str, answer: str = "", dosage_rule: DosageRule = DosageRule.FLAG) -> str:
    if EMERGENCY.search(question):
        return "emergency"
    if CAUTION.search(question):
        return "caution"
    if answer and dosage_rule is DosageRule.FLAG and gives_dosage_instructions(answer):
        return "caution"
    return "safe"

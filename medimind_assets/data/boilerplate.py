"""Source-page boilerplate in MedQuAD answers (and questions): repaired where an answer survives, rejected where not.

Rules are written for families of text, not for files, so they hold on collections we have not seen. Each repair and
each rejection has a name, counted in the dataset's metadata (`docs/dataset.md`, "Cleaning" and "Source-page
boilerplate"; each rule's comment below). Repairs: `navigation`, `references`, `summary_prefix`, `restated_question`,
`missing_table` (the text before GARD's pointer to a table the corpus lacks is kept), the families of
`data/sentence_rules.py`; in questions `information_request`, `document_title`, `capitalised`. Rejections, when nothing
that answers remains: `navigation_only`, `answer_only_question`, `missing_table`, `contact_details_only`,
`boilerplate_only`, `heading_only`, `link_list`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from medimind_assets.data.segments import Segment, split_segments
from medimind_assets.data.sentence_rules import furnish, is_section_heading

_CONTENT_WORD = re.compile(r"[^\W_]+")
# Interrogative openings: the question heading GARD and others put at the start of an answer.
_OPENING_QUESTION = re.compile(
    r"^\s*((?:what|how|who|whom|whose|is|are|can|could|do|does|did|should|will|was|were|which|when|where|why|"
    r"has|have|may|might)\b(?:[^.!?\n]|\.(?=\S)){0,250}\?)[ \t]*\n*",  # "16p13.3" may sit inside
    re.IGNORECASE,
)
_QUESTION_STOP_WORDS = frozenset(
    "a an and are as at be by can could did do does for from has have how i in is it its may might of on or "
    "should that the there these this those to was were what when where which who whom whose why will with "
    "available associated signs symptoms treated treatment treatments treat cause causes caused inherited "
    "diagnosed diagnosis diagnose people affected information about".split()
)
_ADDRESSES_READER = re.compile(r"\b(?:you|your|you're|yours|yourself)\b", re.IGNORECASE)
# "Summary : X" in MedQuAD, "Summary X" where a MEDIQA page title was stripped before it.
_SUMMARY_PREFIX = re.compile(r"^[Ss]ummary(?:\s*:\s*|\s+(?=[A-Z]))")
_MISSING_TABLE = re.compile(
    r"The Human Phenotype Ontology(?: \(HPO\))? provides the following list|\bthe table below includes how often|"
    r"\bSigns and Symptoms Approximate number of patients",
    re.IGNORECASE,
)
_LAST_SENTENCE_END = re.compile(r".*[.!?\n]", re.DOTALL)
_NAVIGATION_LINE = re.compile(
    r"^(?:more (?:on|about)\b.*|(?:frequently asked que+stions|faqs?)\b.*|podcasts?|fact sheets?|"
    r"vector information|additional (?:resources|information)|related (?:links|topics|resources)|"
    r"(?:information|resources) for (?:health ?care )?(?:professionals|providers|clinicians)|"
    r"(?:back to )?top|on this page\b.*|"
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december) \d{4}|"
    r"page \d+|\d{1,3}|https?://\S+|www\.\S+)$",
    re.IGNORECASE,
)
_LIST_ITEM = re.compile(r"(?:^|\s)-\s+")
_RESOURCE_INTRO = re.compile(
    r"\b(?:resources?|more information|learn more|information (?:about|on)|links?|websites?|organizations?)\b",
    re.IGNORECASE,
)
_SOURCE_AND_TITLE = re.compile(r"^[^:.!?\n]{2,100}:\s")
_PROSE_SENTENCE = re.compile(r"[a-z]{2,}[.!?](?:\s|$)")
_CONTACT = re.compile(
    r"https?://\S+|www\.\S+|\S+@\S+\.\w+|\(?\b\d{3}\)?[-\s.]\d{3}[-.]\d{4}\b|\b1-8\d\d-[\w-]{7,8}\b|"
    r"\b(?:phone|tel|telephone|fax|tty|toll[- ]free|e-?mail|website|web site|internet|address)\s*:",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d\d\d")
# A closing list of references: lines that are citations (a DOI or PubMed id, "[cited ...]", "Accessed ...",
# "Retrieved from", "Available from:", a journal's "2009;89(2)"), or under a heading ("References", "Sources:",
# "Further reading") lines with a year or a web address. Prose that cites ("Neubauer et al. (1998) found") stays.
_REFERENCES_HEADING = re.compile(
    r"^(?:(?:additional|further|selected|key) )?(?:references?(?: list)?|reading list|sources?(?: used)?|bibliography|citations?|"
    r"works cited|reading|information|resources and references|literature(?: cited)?|evidence)\s*"
    r"(?::|$|\s(?=\d+\.\s|\[\d|- ))",
    re.IGNORECASE,
)
_ONLY_REFERENCES = re.compile(
    r"^(?:references?(?: list)?|further reading|reading list|bibliography|works cited)\s*:?$", re.IGNORECASE
)
_NAMED_ENTRY = re.compile(r"^\W{0,2}[A-Z][^:.!?\n]{1,60}: [^.!?\n]{2,80}$")  # "Versus Arthritis: Gout leaflet"
_CITES = re.compile(r"\b(?:19|20)\d\d\b|\bdoi\b|\bpmid\b|\bet al\b|https?://|www\.", re.IGNORECASE)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_CITATION_LINE = re.compile(
    rf"\bdoi:|\bdoi\.org/|\bpmid:?\s*\d|\[cited\b|\baccessed (?:on )?(?:\d|{_MONTH} \d)|\bretrieved (?:from|on)\b|"
    r"\bavailable (?:from|at):|\b(?:19|20)\d\d\s*;\s*\d+\s*[(:]",
    re.IGNORECASE,
)
MAX_CITATION_CHARS = 400
_INFORMATION_REQUEST = re.compile(r"^do you have (?:any )?information (?:about|on)\s+(.+?)\s*\??$", re.IGNORECASE)
# A booklet's title as a MedQuAD question's focus: "What causes What I need to know about Gas?" (NIDDK). Only inside
# a question (capitalised as a title): a user asking "What do I need to know about gas?" keeps the words.
_TITLE_IN_QUESTION = re.compile(
    r"(?:(?<= is )|(?<= are )|(?<= of )|(?<= for )|(?<= causes )|(?<= diagnose )|(?<= prevent )|(?<= by ))"
    r"(?:What (?:I|you) need to know about|Your Guide to) (?=\S)"
)


@dataclass
class Scrubbed:
    """An answer after the boilerplate rules: its text, the repairs made, or why it was rejected."""

    text: str
    repairs: list[str] = field(default_factory=list)
    rejected: str | None = None
    segments: list[Segment] | None = field(default=None, repr=False)  # those of `text`, when at hand


_BARE_REPLY = re.compile(r"(?:yes|no)\b", re.IGNORECASE)
_YES_NO_QUESTION = re.compile(
    r"\s*(?:is|are|am|was|were|can|could|does|do|did|should|will|would|may|might|has|have|had|must)\b", re.IGNORECASE
)


def _stems(text: str) -> set[str]:
    # diagnose/diagnosed, treated/treatment: a crude stem is enough to recognise a restatement
    return {w[:5] for w in _CONTENT_WORD.findall(text.casefold()) if w not in _QUESTION_STOP_WORDS}


def is_heading(opening: str, question: str) -> bool:
    """An opening question is a heading (not the answer's own rhetoric) when at least half of its content words
    are in the row's question, or when it does not speak to the reader: "What treatment is available for X?" is a
    heading, "Is your child ready to use a potty?" is the answer talking."""
    words = _stems(opening)
    # "What are the signs and symptoms?" says nothing of its own: a restatement.
    restates = not words or len(words & _stems(question)) / len(words) >= 0.5
    return restates or not _ADDRESSES_READER.search(opening)


def repair_question(question: str) -> tuple[str, list[str]]:
    repairs = []
    if match := _INFORMATION_REQUEST.match(question):
        question = f"What should I know about {match.group(1)}?"
        repairs.append("information_request")
    if _TITLE_IN_QUESTION.search(question):
        question = _TITLE_IN_QUESTION.sub("", question)
        repairs.append("document_title")
    if question[:1].islower():
        question = question[0].upper() + question[1:]
        repairs.append("capitalised")
    return question, repairs


def _drop_navigation_lines(text: str) -> tuple[str, bool]:
    lines = text.split("\n")
    kept = [line for line in lines if not _NAVIGATION_LINE.match(line.strip().rstrip(":"))]
    return "\n".join(kept).strip(), len(kept) != len(lines)


def _drop_reference_list(text: str) -> tuple[str, bool]:
    lines = text.split("\n")
    end = len(lines)
    while end > 0 and len(lines[end - 1]) <= MAX_CITATION_CHARS and _CITATION_LINE.search(lines[end - 1]):
        end -= 1
    for i in range(end - 1, -1, -1):
        if heading := _REFERENCES_HEADING.match(lines[i].strip()):
            cited = [line for line in [lines[i].strip()[heading.end() :], *lines[i + 1 : end]] if line.strip()]
            # Under a heading that can only head references, an entry may name its source without a year or link.
            named = _ONLY_REFERENCES.match(lines[i].strip()) and any(_CITES.search(line) for line in cited)
            if all(_CITES.search(line) or (named and _NAMED_ENTRY.match(line)) for line in cited) and (
                cited or end < len(lines)
            ):
                end = i
            break
    if end == len(lines):
        return text, False
    return "\n".join(lines[:end]).strip(), True


def _is_link_entry(item: str) -> bool:
    """ "Gene Review: X", "National Heart, Lung, and Blood Institute: How is Anemia Treated?", or a short title."""
    return bool(_SOURCE_AND_TITLE.match(item)) or len(item.split()) <= 12 or item.rstrip().endswith(":")


def is_link_list(text: str) -> bool:
    """An introduction naming resources, then list items that are link entries, and no sentence of its own."""
    parts = _LIST_ITEM.split(text)
    if len(parts) < 2 or not _RESOURCE_INTRO.search(parts[0]) or not parts[0].rstrip().endswith(":"):
        return False
    return not [p for p in parts[1:] if _PROSE_SENTENCE.search(p) and not _is_link_entry(p)]


def is_contact_details(text: str) -> bool:
    """Phone numbers, e-mail, web and postal addresses with little prose around them."""
    if len(text) > 1500:  # a contact block is a few lines; a longer answer has prose of its own
        return False
    if not ("@" in text or "www" in text or "http" in text or _DIGITS.search(text)) or not _CONTACT.search(text):
        return False
    rest = _CONTACT.sub(" ", text)
    return len(_PROSE_SENTENCE.findall(rest)) <= 1 and len(rest.split()) < 40


def scrub_answer(question: str, answer: str, min_chars: int) -> Scrubbed:
    """Apply the rules above to a cleaned answer. `min_chars`: what remains must be at least this long."""
    repairs: list[str] = []
    text, changed = _drop_navigation_lines(answer)
    if changed:
        repairs.append("navigation")
        if len(text) < min_chars:
            return Scrubbed(text, repairs, "navigation_only")
    text, cut = _drop_reference_list(text)
    if cut:
        repairs.append("references")
    if _SUMMARY_PREFIX.match(text):
        text = _SUMMARY_PREFIX.sub("", text, count=1)
        repairs.append("summary_prefix")
    stripped = False  # headings can stack: "How does one get X? What causes X? ..."
    while (opening := _OPENING_QUESTION.match(text)) and is_heading(opening.group(1), question):
        rest = text[opening.end() :].lstrip()
        if _BARE_REPLY.match(rest) and not _YES_NO_QUESTION.match(question):
            break  # "Is genetic testing available? Yes. ..." under "How to diagnose X?": the "Yes" needs its question
        text, stripped = rest, True
    if stripped:
        repairs.append("restated_question")
        if len(text) < min_chars:
            return Scrubbed(text, repairs, "answer_only_question")
    if table := _MISSING_TABLE.search(text):
        # A pointer that opens its own sentence ("The Human Phenotype Ontology provides ...") is cut right there: what
        # comes before may be a list without full stops ("may include: Painful fingers ... Heart failure Shock").
        # One inside a sentence ("If available, the table below ...") is cut back to that sentence's start.
        if table.group()[0].isupper():
            end = table.start()
        else:
            before = _LAST_SENTENCE_END.match(text, 0, table.start())
            end = before.end() if before else 0
        text = text[:end].rstrip()
        repairs.append("missing_table")
        if len(text) < min_chars:
            return Scrubbed(text, repairs, "missing_table")
    if is_contact_details(text):
        return Scrubbed(text, repairs, "contact_details_only")
    furnished = furnish(text)
    text = furnished.text
    repairs += furnished.families
    if len(text) < min_chars:
        return Scrubbed(text, repairs, "boilerplate_only")
    segments = furnished.segments or split_segments(text)
    if len(segments) == 1 and is_section_heading(segments[0]):
        return Scrubbed(text, repairs, "heading_only")
    if is_link_list(text):
        return Scrubbed(text, repairs, "link_list")
    return Scrubbed(text, repairs, segments=segments)

"""Independent audit of web boilerplate left in a medical QA dataset's answers (stdlib only).

.venv/bin/python benchmarks/boilerplate_audit.py DATASET.jsonl [--examples N] [--json OUT.json]

Reads a dataset.jsonl (keys used: id, instruction, response, source, split, origin), keeps the trainable rows
(split != "test") and prints, per family of boilerplate and per collection (origin.split("/")[1] for medquad rows,
"mediqa_qa" otherwise): how many rows have it and their share, the share with ANY family, then N examples per family
(origin and an excerpt, the hit in [[...]]). The exit code is always 0 (even for a usage error or an unreadable
file, reported on stderr): it measures, it does not gate.

The detectors were written without looking at the project's cleaning rules, on purpose, and are tuned for precision
(a false positive inflates a share). They work on the response unless said otherwise. A "segment" below is a piece
of the answer between line breaks, sentence ends (. ! ? then a space) and run-on list markers (" - ").

self_repetition
    The answer repeats itself. Either a segment of >= 6 words occurs twice (normalised: lower case, words only, so
    punctuation and whitespace do not matter), e.g. a "key points" list whose items come back as the first sentences
    of each section; or a run of >= 12 consecutive words occurs twice (not overlapping) AND is a copy of whole text,
    not of a phrase: on one of its two occurrences it covers >= 2 whole segments (list items repeated as run-on text)
    or it is >= 40 words long. The extra condition is there because 12-word runs alone fire on the parallel wording
    of genuine lists ("A procedure in which a blood sample is checked to measure the amounts of certain ...").
attribution
    The agency that wrote the page, named after the content: an organisation name that ends the answer with no final
    punctuation ("... surgery. NIH: National Cancer Institute", "... netting Centers for Disease Control and
    Prevention"), a last sentence that is only a name ("... cope. Federal Emergency Management Agency."), or a line
    that is only the name of a government agency ("NIH: ...", "Centers for ...", "Food and Drug Administration").
    An organisation name is "NIH: <Name>" or a run of capitalised words (joined by and/of/for/on/the/in/&/commas)
    holding an organisation word (Institute, Centers, Agency, Administration, Office, Department, Service, Bureau,
    Library, Registry, Foundation, Association, ...). Not counted: an ending name right after "the", "by", "from",
    "at", "visit", "contact" ... (a sentence that lost its full stop), or after a list marker (a list of resources),
    and other organisation-named lines inside an answer (section headings such as "National ALS Registry").
credits
    Editorial credits: "Updated by", "Reviewed by" (capitalised, or "Also reviewed by", "Medically reviewed by"),
    "Review provided by", "VeriMed Healthcare Network", "A.D.A.M. Editorial team", "Editorial Director", "Last
    reviewed/updated/revised". "is carefully reviewed by NIDDK scientists" is prose, not a credit.
media_instructions
    Instructions about videos, animations, audio or page controls: "Watch this video", "play/replay/pause the
    animation", "the animation below", "To enlarge the videos on this page, click the brackets", "press the Escape
    (Esc) button", "full screen", captions/closed captioning, "spoken explanations", "transcript" of a video/audio,
    "on YouTube", "CDC-TV", podcasts, slideshows, "scroll bar", running times "(4:04 mins)". "A small camera sends a
    video image to a monitor" is medicine.
more_information
    Referrals elsewhere: "For more (further, additional, detailed) information", "Learn more", "Read more", "Find out
    more", "find more information", "More (detailed) information ... is available / can be found (viewed,
    accessed)". "tests give the doctor more information" is medicine and is not counted.
click
    The word "click" as an instruction to a reader: click/clicking/clicks followed by on, here, the, this, a, below,
    a link ... (or "double-click", "right-click"). Clicking *sounds* ("clicking or popping in the jaw", "clicking
    noises") are symptoms, not boilerplate.
phone_number
    A telephone number: North American formats (1-800-222-1222, (301) 496-5751, 301-496-5751, 800.123.4567), vanity
    numbers (1-800-4-CANCER, 1-800-CDC-INFO), bare 10/11-digit toll-free numbers (18008608747), any bare 10/11-digit
    North American number after Phone/Tel/TTY/TDD/Fax/call(ing)/toll-free/reached/at ("at 3015928573", "call 404 639
    1075"), and "TTY"/"TDD" numbers. 911 is an emergency instruction, not a contact number, and is not counted.
language_switch
    A language-switch control: a segment that is only "Español" / "En español" / "Spanish" / "In Spanish" / "Other
    languages" / "English" / "Ver en español"..., or a phrase such as "This page is also available in Spanish", "Read
    this in Spanish", "available in other languages", "versión en español" (with or without the ñ, which some
    pipelines drop: "espaol"). The word Spanish inside a sentence ("Spanish-speaking families") is not counted.
question_only
    The whole answer (stripped) is only a question: one sentence ending in "?" (at most 40 words, no other sentence
    end inside), or the question of the row restated (same words as the instruction).
cut_after_heading
    The answer ends with a section heading and nothing under it: the last piece of the answer (its last line, or what
    follows the last sentence end on that line, for answers whose line breaks were flattened) has at most 8 words, no
    final . ! ? ; , and either ends with ":" or is Title Case; list items, URLs, citation marks ("[1]") and
    organisation names (attribution) are not headings.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

Span = tuple[int, int]

# --- text helpers ------------------------------------------------------------------------------------------------

WORD = re.compile(r"[A-Za-z0-9]+")
# Where a segment ends: a line break, a sentence end followed by a space, or a run-on list marker " - ".
# Not after an initial or a common abbreviation: "A. costaricensis", "e.g. ", "Dr. ".
NOT_ABBREVIATION = r"(?<!\b[A-Z]\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bvs\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bNo\.)"
SENTENCE_END = rf"(?<=[.!?]){NOT_ABBREVIATION}[\"'”’)\]]*\s+"
SEGMENT_BREAK = re.compile(rf"\n+|{SENTENCE_END}|\s+-\s+|^\s*-\s+", re.MULTILINE)


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


@functools.lru_cache(maxsize=4)  # several detectors segment the same answer in turn
def segments(text: str) -> list[Span]:
    """The (start, end) spans of the answer's segments: text between line breaks, sentence ends and list markers."""
    spans, start = [], 0
    for m in SEGMENT_BREAK.finditer(text):
        if m.start() > start:
            spans.append((start, m.start()))
        start = max(start, m.end())
    if start < len(text):
        spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def lines(text: str) -> Iterable[Span]:
    start = 0
    for line in text.split("\n"):
        yield start, start + len(line)
        start += len(line) + 1


def first_match(patterns: Iterable[re.Pattern[str]], text: str, triggers: Iterable[str] = ()) -> Span | None:
    """The earliest hit of any pattern; `triggers` (lower-case strings, one of which every hit holds) skip the
    regular expressions on the many answers that cannot match."""
    if triggers:
        lower = text.lower()
        if not any(t in lower for t in triggers):
            return None
    hits = [m.span() for p in patterns if (m := p.search(text))]
    return min(hits) if hits else None


def strip_span(text: str, span: Span) -> Span:
    a, b = span
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


# --- 1. self_repetition ------------------------------------------------------------------------------------------

MIN_SENTENCE_WORDS = 6
MIN_RUN_WORDS = 12
LONG_RUN_WORDS = 40


def self_repetition(row: dict) -> Span | None:
    text = row["response"]
    seen: set[tuple[str, ...]] = set()
    for a, b in segments(text):
        key = tuple(words(text[a:b]))
        if len(key) < MIN_SENTENCE_WORDS:
            continue
        if key in seen:
            return strip_span(text, (a, b))
        seen.add(key)
    return repeated_run(text)


def repeated_run(text: str) -> Span | None:
    """The second occurrence of a repeated run of >= 12 words that copies whole segments or is >= 40 words long."""
    toks = words(text)
    grams = list(zip(*(toks[k:] for k in range(MIN_RUN_WORDS)), strict=False))  # the 12-grams
    if len(set(grams)) == len(grams):  # no 12-gram occurs twice: the common case, decided in C
        return None
    tokens = list(WORD.finditer(text))
    # The segment of each token, and each segment's token range [first, last + 1).
    seg_spans = segments(text)
    seg_of, si = [], 0
    for t in tokens:
        while si < len(seg_spans) - 1 and t.start() >= seg_spans[si][1]:
            si += 1
        seg_of.append(si)
    seg_range: dict[int, list[int]] = {}
    for i, s in enumerate(seg_of):
        seg_range.setdefault(s, [i, i + 1])[1] = i + 1

    def whole_segments(first: int, length: int) -> int:
        return sum(1 for a, b in seg_range.values() if first <= a and b <= first + length)

    first_seen: dict[tuple[str, ...], int] = {}
    i = 0
    while i < len(grams):
        j = first_seen.setdefault(grams[i], i)
        if i - j >= MIN_RUN_WORDS:
            length = MIN_RUN_WORDS
            while i + length < len(toks) and j + length < i and toks[i + length] == toks[j + length]:
                length += 1
            if length >= LONG_RUN_WORDS or max(whole_segments(j, length), whole_segments(i, length)) >= 2:
                return tokens[i].start(), tokens[i + length - 1].end()
        i += 1
    return None


# --- 2. attribution ----------------------------------------------------------------------------------------------

ORG_WORDS = (
    r"Institutes?|Centers?|Centre|Agency|Administration|Office|Department|Dept\.?|Services?|Bureau|Library|Registry|"
    r"Foundation|Association|Society|Academy|College|Council|Commission|Clearinghouse|Network|Organization|Alliance|"
    r"Coalition|Federation|Program|Reference"
)
# A capitalised word; a full stop only inside an abbreviation (U.S., A.D.A.M.) or in "Dept.", so that a name does
# not run back over a sentence end ("... vitamin B12. United States Department of Agriculture").
CAP = r"(?:Dept\.|U\.S\.|[A-Z][\w'’-]*(?:\.[A-Za-z0-9][\w'’-]*)*)"
CONNECTOR = r"(?:,?\s+(?:(?:and|of|for|on|the|in|to|&)\s+)*)"
ORG_NAME = rf"(?:NIH:\s*)?{CAP}(?:{CONNECTOR}{CAP})*"
ORG_LINE = re.compile(rf"^\s*({ORG_NAME})\s*$")
LIST_MARKERS = ("-", "*", "•")  # a name right after one is an item of a list (of resources), not a signature
ORG_AT_END = re.compile(rf"({ORG_NAME})\s*$")
HAS_ORG_WORD = re.compile(rf"\b(?:{ORG_WORDS})(?!\w)")
# An ending name after one of these words is the end of a sentence that lost its full stop.
SENTENCE_LEAD_IN = {
    "the", "by", "from", "at", "with", "of", "to", "contact", "visit", "and", "or", "via", "through", "call", "see",
    "a", "an", "your", "our", "their", "its", "in", "on", "for",
}  # fmt: skip
MAX_ORG_WORDS = 16


def is_org_name(name: str) -> bool:
    n_words = len(name.split())
    if name.startswith("NIH:"):
        return n_words >= 2
    return 2 <= n_words <= MAX_ORG_WORDS and bool(HAS_ORG_WORD.search(name)) and "://" not in name


def trailing_org(text: str) -> Span | None:
    """The span of an organisation name that ends `text` (no final punctuation) and is not a sentence's object."""
    text = text.rstrip()
    if not text or text[-1] in ".!?;:,":
        return None
    tail = max(0, len(text) - 400)  # a name is short: searching the whole answer for it is slow
    m = ORG_AT_END.search(text, tail)
    if not m:
        return None
    start, name = m.start(1), m.group(1)
    # The regex takes the longest capitalised run; try its shorter tails too ("Zostavax Centers for ..." -> "Centers").
    for k in re.finditer(r"(?:^|(?<=\s))(?:NIH:|[A-Z])", name):
        candidate = name[k.start() :]
        if not is_org_name(candidate):
            continue
        before = text[: start + k.start()].split()
        if before and (before[-1].lower().strip("\"'(") in SENTENCE_LEAD_IN or before[-1] in LIST_MARKERS):
            # "... a rare disease in the U.S. Centers for Disease Control and Prevention": "U.S." may end a sentence.
            if candidate.startswith("U.S. "):
                continue
            return None
        return start + k.start(), len(text)
    return None


# Inside an answer, a line that is only an organisation name counts when it names a government agency the way its
# pages sign: other organisation-named lines there are section headings ("National ALS Registry" above a paragraph on
# the registry, "Dialysis Center Hemodialysis").
AGENCY_LINE = re.compile(
    r"NIH:|(?:U\.S\.|United States) |(?:National (?:Institutes?|Center|Library)|Centers|Agency|Office|Department|"
    r"Dept\.|Administration) (?:of|on|for)\b|Food and Drug Administration|Environmental Protection Agency|Federal "
)


def attribution(row: dict) -> Span | None:
    """A trailing organisation name (which covers a last line that is only one), or a line that is only an agency."""
    text = row["response"]
    for a, b in lines(text):
        m = ORG_LINE.match(text[a:b])
        if m and AGENCY_LINE.match(m.group(1)) and is_org_name(m.group(1)):
            return a + m.start(1), a + m.end(1)
    # A last "sentence" that is only a name: "... cope. Federal Emergency Management Agency."
    if segs := segments(text):
        a, b = segs[-1]
        m = ORG_LINE.match(text[a:b].rstrip().removesuffix("."))
        if m and is_org_name(m.group(1)) and not text[:a].rstrip().endswith(LIST_MARKERS):
            return a + m.start(1), a + m.end(1)
    return trailing_org(text)


# --- 3. credits --------------------------------------------------------------------------------------------------

CREDITS = [
    re.compile(r"\bUpdated by\b:?"),
    re.compile(r"(?:^|(?<=[.!?:]\s)|(?<=\n))Reviewed by\b"),
    re.compile(r"\b(?:Also|Medically) reviewed by\b", re.IGNORECASE),
    re.compile(r"\bReview provided by\b", re.IGNORECASE),
    re.compile(r"\bVeriMed Healthcare Network\b", re.IGNORECASE),
    re.compile(r"\bA\.D\.A\.M\.?,? (?:Inc\.?,? )?Editorial\b|\bEditorial (?:team|Director|staff|board)\b"),
    re.compile(r"\bLast (?:reviewed|updated|revised|modified)\b", re.IGNORECASE),
]
CREDIT_TRIGGERS = ("updated by", "reviewed by", "review provided", "verimed", "editorial", "last ")


def credits(row: dict) -> Span | None:
    return first_match(CREDITS, row["response"], CREDIT_TRIGGERS)


# --- 4. media_instructions ---------------------------------------------------------------------------------------

MEDIA = r"(?:videos?|animations?|audio|podcasts?|slide ?shows?|webcasts?|interactive tutorial|tutorial)"
MEDIA_INSTRUCTIONS = [
    re.compile(
        rf"\b(?:watch|view|see|play|replay|pause|restart|start|stop|listen to|enlarge) (?:this|the|our|a|these) {MEDIA}",
        re.IGNORECASE,
    ),
    re.compile(rf"\b(?:the|this) {MEDIA} (?:below|above|on this page)\b", re.IGNORECASE),
    re.compile(rf"\b{MEDIA} (?:player|clip|transcript|version)\b", re.IGNORECASE),
    re.compile(r"\btranscript (?:of|for) (?:the|this) (?:video|audio|podcast|animation)\b", re.IGNORECASE),
    re.compile(
        r"\bclick (?:on )?the brackets\b|\bEscape \(Esc\)|\bpress(?:ing)? (?:the )?(?:Escape|Esc)\b", re.IGNORECASE
    ),
    re.compile(r"\bfull[- ]screen\b|\bscroll bar\b|\bspoken explanations\b", re.IGNORECASE),
    re.compile(r"\b(?:closed[- ])?caption(?:s|ed|ing)?\b", re.IGNORECASE),
    re.compile(r"\b(?:on|at|via) YouTube\b|\bCDC-TV\b|\bpodcasts?\b|\bwebcasts?\b"),
    re.compile(r"\(\d{1,2}:\d{2} min(?:ute)?s?\)"),
]
MEDIA_TRIGGERS = (
    "video", "animation", "audio", "podcast", "slide", "webcast", "tutorial", "transcript", "brackets", "esc",
    "screen", "scroll bar", "spoken explanation", "caption", "youtube", "cdc-tv", "min)", "mins)", "minute)",
    "minutes)",
)  # fmt: skip


def media_instructions(row: dict) -> Span | None:
    return first_match(MEDIA_INSTRUCTIONS, row["response"], MEDIA_TRIGGERS)


# --- 5. more_information -----------------------------------------------------------------------------------------

MORE = r"(?:more|further|additional)(?: detailed)?|detailed"
MORE_INFORMATION = [
    re.compile(rf"\bfor (?:{MORE}) (?:information|info|details)\b", re.IGNORECASE),
    re.compile(
        r"\b(?:learn|read|find out|see) more\b(?! (?:than|often|likely|quickly|slowly|common|severe))", re.IGNORECASE
    ),
    re.compile(rf"\bfind (?:{MORE}) (?:information|details)\b", re.IGNORECASE),
    re.compile(
        rf"\b(?:{MORE}) (?:information|details)\b[^.]{{0,100}}?\b(?:is|are|can be|may be) (?:also )?"
        r"(?:available|found|viewed|accessed|obtained|read)\b",
        re.IGNORECASE,
    ),
]


# "Researchers are working to learn more about ...", "testing can be used to find out more about how likely ...":
# what science does, not a referral.
RESEARCH_BEFORE = re.compile(
    r"\b(?:[Rr]esearch(?:ers?)?|[Ss]cientists?|[Ss]tud(?:y|ies)|investigators?|used|working|trying)\b(?! UK| title)"
    r"[^.!?]{0,40}$"
)


def more_information(row: dict) -> Span | None:
    text = row["response"]
    lower = text.lower()
    if not any(t in lower for t in ("more", "further", "additional", "detailed")):
        return None
    hits = sorted(m.span() for p in MORE_INFORMATION for m in p.finditer(text))
    for a, b in hits:
        if RESEARCH_BEFORE.search(text, max(0, a - 60), a):
            continue
        return a, b
    return None


# --- 6. click ----------------------------------------------------------------------------------------------------

CLICK = re.compile(
    r"\b(?:(?:double|right)-)?click(?:s|ed|ing)?\b"
    # ... followed by what one clicks: "on", "here", "the link", a quoted button name, "<word> link/button/tab/icon"
    r"(?=\s+(?:on|here|the|this|that|these|a|an|one|any|to|through|below|above|it|each|in)\b"
    r"|\s*[\"“]|\s+\w+ (?:link|button|tab|icon)s?\b)",
    re.IGNORECASE,
)


def click(row: dict) -> Span | None:
    text = row["response"]
    m = CLICK.search(text) if "click" in text.lower() else None
    return m.span() if m else None


# --- 7. phone_number ---------------------------------------------------------------------------------------------

PHONE_CONTEXT = r"(?:Phone|Tel|Telephone|TTY|TDD|Fax|call(?:ing|ed)?|toll[- ]free(?: number)?|reached|at)"
PHONE_NUMBERS = [
    # (301) 496-5751, 301-496-5751, 800.123.4567, 1-800-222-1222, +1 301 496 5751
    re.compile(r"(?<![\w-])(?:\+?1[-.\s])?(?:\(\d{3}\)\s*|\d{3}[-.])\d{3}[-.]\d{4}(?![\w-])"),
    # 1-800-4-CANCER, 1-800-CDC-INFO, 1-877-44U-QUIT, 1-800-QUITNOW
    re.compile(r"\b1-8(?:00|88|77|66|55|44|33)-(?=[\w-]*[A-Z])[A-Z0-9]{1,7}(?:-[A-Z0-9]{1,7})?\b"),
    # Bare toll-free numbers: 18008608747, 8008608747
    re.compile(r"(?<![\w.])1?8(?:00|88|77|66|55|44|33)\d{7}(?!\w|\.\d)"),
    # Any bare or spaced 10/11-digit number right after a phone word: "Phone: 7035246686", "call 404 639 1075"
    re.compile(
        rf"\b{PHONE_CONTEXT}\b:?\s*(?:at\s+)?(?:1[-\s]?)?[2-9]\d\d[\s]?[2-9]\d\d[\s]?\d{{4}}(?!\w|\.\d)", re.IGNORECASE
    ),
    re.compile(r"\b(?:TTY|TDD)\b:?\s*\d[\d\s().-]{6,}\d|\d[\d().-]{6,}\d\s*(?:-\s*)?\(?(?:TTY|TDD)\b"),
]


def phone_number(row: dict) -> Span | None:
    text = row["response"]
    if not re.search(r"\d{3}|TTY|TDD", text):
        return None
    return first_match(PHONE_NUMBERS, text)


# --- 8. language_switch ------------------------------------------------------------------------------------------

ESPANOL = r"espa(?:ñ|n|)ol"  # "espaol": a pipeline that drops non-ASCII letters
LANGUAGE_SEGMENT = re.compile(
    rf"^(?:(?:en|ver en|leer en|versi[oó]n en|informaci[oó]n en) )?{ESPANOL}|(?:in |read in |view in )?spanish"
    r"|other languages|(?:available in )?(?:other|multiple|more) languages|english|in english",
    re.IGNORECASE,
)
LANGUAGE_PHRASES = [
    re.compile(
        r"\b(?:this|the) (?:page|information|content|article|fact sheet|publication|document|site|website|topic)"
        r"(?: is)?(?: also)? available in (?:Spanish|other languages)\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:also available|read this|read it|view this|see this) in (?:Spanish|other languages)\b", re.IGNORECASE
    ),
    re.compile(rf"\b(?:versi[oó]n|informaci[oó]n|ver|leer) en {ESPANOL}\b", re.IGNORECASE),
]


def language_switch(row: dict) -> Span | None:
    text = row["response"]
    lower = text.lower()
    if not any(t in lower for t in ("espa", "spanish", "language", "english")):
        return None
    for a, b in segments(text):
        piece = text[a:b].strip().strip("[]()|•*-:.").strip()
        if LANGUAGE_SEGMENT.fullmatch(piece):
            return strip_span(text, (a, b))
    return first_match(LANGUAGE_PHRASES, text)


# --- 9. question_only --------------------------------------------------------------------------------------------

SINGLE_QUESTION = re.compile(r"[^\n?]*\?")
INNER_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s")
MAX_QUESTION_WORDS = 40


def question_only(row: dict) -> Span | None:
    text = row["response"]
    span = strip_span(text, (0, len(text)))
    answer = text[span[0] : span[1]]
    if not answer:
        return None
    if words(answer) == words(row.get("instruction") or ""):
        return span
    if (
        SINGLE_QUESTION.fullmatch(answer)
        and not INNER_SENTENCE_END.search(answer[:-1])
        and len(answer.split()) <= MAX_QUESTION_WORDS
    ):
        return span
    return None


# --- 10. cut_after_heading ---------------------------------------------------------------------------------------

MAX_HEADING_WORDS = 8
MINOR_WORDS = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "vs", "with"}
LAST_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s+")


def is_title_case(fragment: str) -> bool:
    tokens = [t.strip("()[]\"'“”‘’,/&") for t in fragment.split()]
    tokens = [t for t in tokens if t]
    if not tokens or not tokens[0][0].isupper():
        return False
    return all(t[0].isupper() or t[0].isdigit() or t.lower() in MINOR_WORDS for t in tokens if t[0].isalnum())


def cut_after_heading(row: dict) -> Span | None:
    text = row["response"].rstrip()
    line_start = text.rfind("\n") + 1
    start = line_start
    for m in LAST_SENTENCE_END.finditer(text, line_start):
        start = m.end()
    fragment = text[start:].strip()
    if not fragment or len(fragment.split()) > MAX_HEADING_WORDS or fragment[-1] in ".!?;,":
        return None
    if not re.search(r"[A-Za-z]{2}", fragment):  # "[1] [2]", numbers
        return None
    if fragment.startswith(("-", "*", "•")) or " - " in fragment or "://" in fragment or "www." in fragment:
        return None
    if trailing_org(fragment) or is_org_name(fragment):
        return None
    if fragment.endswith(":") or is_title_case(fragment):
        return strip_span(text, (start, len(text)))
    return None


# --- the audit ---------------------------------------------------------------------------------------------------

Detector = Callable[[dict], "Span | None"]
FAMILIES: dict[str, Detector] = {
    "self_repetition": self_repetition,
    "attribution": attribution,
    "credits": credits,
    "media_instructions": media_instructions,
    "more_information": more_information,
    "click": click,
    "phone_number": phone_number,
    "language_switch": language_switch,
    "question_only": question_only,
    "cut_after_heading": cut_after_heading,
}
ALL = "ALL"
ANY = "ANY"


def collection(row: dict) -> str:
    if row.get("source") == "medquad":
        parts = str(row.get("origin", "")).split("/")
        return parts[1] if len(parts) > 1 else "medquad"
    return "mediqa_qa"


def excerpt(text: str, span: Span, width: int = 80, max_hit: int = 160) -> str:
    a, b = span
    hit = text[a:b]
    if len(hit) > max_hit:
        hit = hit[: max_hit // 2] + " … " + hit[-max_hit // 2 :]
    before = text[max(0, a - width) : a]
    after = text[b : b + width]
    out = ("…" if a > width else "") + before + "[[" + hit + "]]" + after + ("…" if b + width < len(text) else "")
    return re.sub(r"\s*\n\s*", " ⏎ ", out)


def read_rows(path: Path) -> tuple[list[dict], int]:
    rows, bad = [], 0
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(row, dict) and isinstance(row.get("response"), str):
                rows.append(row)
            else:
                bad += 1
    return rows, bad


def audit(rows: list[dict], n_examples: int) -> dict:
    """Counts per collection and family over the trainable rows, and up to n_examples hits per family."""
    trainable = [r for r in rows if r.get("split") != "test"]
    totals: Counter[str] = Counter()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    # Examples: the first hits of each collection in turn, so that one collection does not fill them all.
    hits_by_collection: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in trainable:
        col = collection(row)
        totals[col] += 1
        totals[ALL] += 1
        found = False
        for family, detect in FAMILIES.items():
            span = detect(row)
            if span is None:
                continue
            found = True
            counts[col][family] += 1
            counts[ALL][family] += 1
            bucket = hits_by_collection[family][col]
            if len(bucket) < n_examples:
                bucket.append(
                    {"id": row.get("id"), "origin": row.get("origin"), "excerpt": excerpt(row["response"], span)}
                )
        if found:
            counts[col][ANY] += 1
            counts[ALL][ANY] += 1
    collections = sorted(c for c in totals if c != ALL) + [ALL]
    table = {
        col: {
            "rows": totals[col],
            **{
                fam: {"count": counts[col][fam], "share": counts[col][fam] / totals[col] if totals[col] else 0.0}
                for fam in (*FAMILIES, ANY)
            },
        }
        for col in collections
    }
    examples = {}
    for family in FAMILIES:
        buckets = [hits_by_collection[family][c] for c in collections[:-1]]
        picked = [b[k] for k in range(n_examples) for b in buckets if k < len(b)]
        examples[family] = picked[:n_examples]
    return {
        "trainable_rows": len(trainable),
        "test_rows_skipped": len(rows) - len(trainable),
        "collections": table,
        "examples": examples,
    }


def print_report(result: dict, path: Path, bad_lines: int) -> None:
    table = result["collections"]
    cols = list(table)
    unreadable = f", {bad_lines} unreadable lines" if bad_lines else ""
    print(
        f"Boilerplate audit of {path}: {result['trainable_rows']:,} trainable rows "
        f"({result['test_rows_skipped']:,} test rows skipped{unreadable})"
    )
    print("Each cell: rows with the family detected, and their share of the collection's trainable rows.\n")
    # 1_CancerGov_QA -> CancerGov, 4_MPlus_Health_Topics_QA -> MPlus
    headers = [re.sub(r"^\d+_([^_]+).*$", r"\1", c) for c in cols]
    name_w = max(len(f) for f in (*FAMILIES, ANY, "rows"))
    cell_w = max(14, *(len(h) + 2 for h in headers))
    print("family".ljust(name_w) + "".join(h.rjust(cell_w) for h in headers))
    print("rows".ljust(name_w) + "".join(f"{table[c]['rows']:,}".rjust(cell_w) for c in cols))
    print("-" * (name_w + cell_w * len(cols)))
    for fam in (*FAMILIES, ANY):
        cells = []
        for c in cols:
            cell = table[c][fam]
            cells.append(f"{cell['count']:,} {100 * cell['share']:5.1f}%".rjust(cell_w))
        if fam == ANY:
            print("-" * (name_w + cell_w * len(cols)))
        print(fam.ljust(name_w) + "".join(cells))
    print("\nCollections: " + ", ".join(f"{h} = {c}" for h, c in zip(headers, cols, strict=True) if h != c))
    for fam, items in result["examples"].items():
        print(f"\n== {fam}: {table[ALL][fam]['count']:,} rows" + ("" if items else " (no examples)"))
        for item in items:
            print(f"  {item['origin']}  [{item['id']}]")
            print(f"      {item['excerpt']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path, help="a dataset.jsonl")
    parser.add_argument("--examples", type=int, default=3, metavar="N", help="examples per family (default 3)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="also write the counts and examples here")
    try:
        args = parser.parse_args(argv)
    except SystemExit:  # a usage error (argparse has printed it) or --help: still 0, as promised
        return 0
    try:
        rows, bad_lines = read_rows(args.dataset)
    except OSError as exc:  # the audit informs, it never fails a build: report and exit 0
        print(f"cannot read {args.dataset}: {exc}", file=sys.stderr)
        return 0
    result = audit(rows, max(0, args.examples))
    try:
        print_report(result, args.dataset, bad_lines)
    except BrokenPipeError:  # `... | head`: the reader has what it wanted
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (no flush error at exit)
    if args.json:
        args.json.write_text(json.dumps({"dataset": str(args.dataset), **result}, indent=2, ensure_ascii=False) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

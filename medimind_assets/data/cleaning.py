"""Text cleaning for questions and answers. Pure functions; each rule has a test and `docs/dataset.md` lists them."""

from __future__ import annotations

import html
import re
import unicodedata

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u00b6"), None)
_BLANK_LINES = re.compile(r"\n{3,}")
_NON_WORD = re.compile(r"[\W_]+")
# Page navigation is a run of section questions ("« What causes it? What are common symptoms? »"); other « » are
# quotation marks ("the condition known as « restless gut »"), whose words stay.
_NAVIGATION = re.compile(r"«[^»?]{0,200}\?[^»]{0,200}»|«[^»?]{0,200}\?[^»]{0,200}$")
_QUOTED = re.compile(r"«\s*([^«»]*?)\s*»")
# "... later in life. How is a change in a gene related to FXTAS? »": a "next section" link with only its arrow.
_NEXT_LINK = re.compile(r"(?:(?<=[.!?])|^)\s*[^.!?«»\n]{1,150}\?\s*»")
# MEDIQA answers open with the source page's `Title (Section): `: navigation, not answer.
_TITLE_PREFIX = re.compile(r"^((?:[^\n:.!(]|\([^)\n]{0,150}\)){1,150}?(?:\?)?):\s+(?=\S)")
# Who a dose is for, not a page title: "Adults and children 12 years and over: Take 2 tablets".
_DOSE_GROUP = re.compile(
    r"(?:adults?|children|kids|infants|babies|teens|teenagers|adolescents|patients|people|women|men|seniors)"
    r"\s+(?:and|or|aged?|ages|under|over|from|younger|older|\d)\b|(?:ages?|aged|under|over)\s+\d|\d+\s*(?:years?|months?)\b|"
    # A group named alone: "Adults: Take 2 tablets", "Pregnant women: Avoid this medicine".
    r"(?:adults?|children|kids|infants|babies|teens|teenagers|adolescents|seniors|elderly|(?:pregnant|breastfeeding|"
    r"nursing) women)\s*:",
    re.IGNORECASE,
)
_LOWER_WORD = re.compile(r"[a-z]+\b")
_KEY_POINTS = re.compile(r"^key points\s*\n", re.IGNORECASE)
# Two sentences the source glued together ("... and medication.Share this ..."): a space after the full stop, so that
# a rule dropping the second never takes the first with it. Not "U.S.", "St.Louis" or "MedlinePlus.gov".
_GLUED_SENTENCE = re.compile(r"\.(?<=[a-z]{2}\.)(?=[A-Z][a-z])")  # the full stop first: found fast
# A sentence wrapped onto the next line ("is not intended to\nreplace the advice"): one line again, so that the rules
# read the sentence whole. Not a list item, a heading or a line that ends a sentence.
_SOFT_WRAP = re.compile(r"\n(?<=[a-z,]\n)(?=[a-z])")
_TOP_OF_PAGE = re.compile(r"[ \t]*\bTop of Page\b[ \t]*")  # a page's link back up, left in its text
# A sentence's end: not an abbreviation's full stop ("e.g. the", "Dr. Smith", "vs. febuxostat").
_SENTENCE_END = re.compile(
    r"(?<!\be\.g)(?<!\bi\.e)(?<!\bDr)(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bvs)(?<!\bSt)(?<!\bNo)(?<!\bFig)"
    r"[.!?](?=\s+[^a-z\s]|\s*$)"
)
# A list item starts on a new line, or after " - " before a capital ("... - Nausea"): not a range ("0.6 - 1.2 mg")
# nor a dash in a sentence ("can be prevented - rotavirus and ...").
_ITEM_START = re.compile(r"\s+-\s(?=[A-Z(\"'])|\n")
HEADING_WORDS = 4  # a paragraph's first sentence this short is its heading ("Liver cancer.", "Defecography.")
# HTML that reached the text escaped ("&lt;p&gt;", "&amp;nbsp;", CDATA): entities are decoded (twice, for the
# doubly escaped), then the tags of common markup removed, block ones leaving a line break.
_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,30}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
_INLINE_TAGS = frozenset(
    "img b i u em strong span a sup sub font small big abbr cite code q s strike del ins mark tt kbd var wbr dfn time "
    "picture source input button label link meta iframe object embed video audio".split()
)
_TAG = re.compile(
    r"</?(p|div|br|li|ul|ol|dl|dt|dd|tr|td|th|table|thead|tbody|tfoot|caption|h[1-6]|section|blockquote|hr|pre|nav|"
    r"header|footer|article|aside|main|figure|figcaption|center|form|html|head|body|title|"
    + "|".join(sorted(_INLINE_TAGS))
    # Attributes with a value, or HTML's value-less ones: "a<b and b>c" is text, not a <b> tag with "and" and "b".
    + r")\b(?:\s+(?:[\w:-]+\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'|[^\s<>]+)|"
    r"(?:hidden|disabled|checked|selected|download|async|defer|controls|autoplay|loop|muted|readonly|required|"
    r"multiple|nowrap|noshade|compact|open|allowfullscreen)(?=[\s/>]))){0,20}\s*/?>",
    re.IGNORECASE,
)
# A power written as a superscript after a number ("10<sup>9</sup>/L"): kept as "10^9", not read as "109".
_POWER = re.compile(r"(?<=\d)<sup\b[^<>]*>\s*(-?\d{1,3})\s*</sup\s*>", re.IGNORECASE)
# What a page runs or styles, not what it says: gone with its content.
_SCRIPT = re.compile(r"<(script|style|noscript)\b[^<>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def _tag_replacement(tag: re.Match) -> str:
    """Nothing for an inline tag, a line break for a block one; a list item's opening tag also marks the line as an
    item ("- "), as the sources write their lists, so that a list's last short item is never read as a heading."""
    name = tag.group(1).lower()
    if name in _INLINE_TAGS:
        return ""
    if name == "li":
        return "" if tag.group().startswith("</") else "\n- "
    return "\n"


def strip_markup(text: str) -> str:
    for _ in range(2):
        if "&" in text:
            text = _ENTITY.sub(lambda m: html.unescape(m.group()), text)
    if "<" in text:
        text = _POWER.sub(r"^\1", _SCRIPT.sub("\n", text))
        text = _TAG.sub(_tag_replacement, text)
    return text


def normalize_whitespace(text: str) -> str:
    text = unicodedata.normalize("NFC", strip_markup(text)).translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # str.split() splits on the same Unicode spaces as the regex class \s (U+00A0, U+2009, tabs), only faster.
    text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _sentence_ends(head: str, starts: list[re.Match]) -> list[int]:
    """Sentence ends that may close a cut answer: not the end of the first sentence of a list item (its label,
    "- Alpha-beta blockers.") nor of a paragraph's heading ("Liver cancer.": four words or fewer) when more
    follows."""
    labels = set()
    for m in starts:
        first = _SENTENCE_END.search(head, m.end())
        if first is None:
            continue
        item = "-" in m.group() or head[m.end() :].startswith("- ")
        if item or len(head[m.end() : first.end()].split()) <= HEADING_WORDS:
            labels.add(first.end())
    return [m.end() for m in _SENTENCE_END.finditer(head) if m.end() not in labels]


def truncate_at_sentence(text: str, max_chars: int) -> tuple[str, bool]:
    """(text cut at the last sentence or list-item end within `max_chars`, whether it was cut).

    A list item ends where the next one starts (" - " or a new line); a cut there never leaves half an item
    ("... - Long"), nor an introduction whose list was cut away ("Symptoms include:"). Only text with neither
    boundary in it falls back to a word boundary.
    """
    if len(text) <= max_chars:
        return text, False
    head = text[: max_chars + 1]
    starts = list(_ITEM_START.finditer(head))

    def usable(candidates: list[int]) -> list[int]:
        return [end for end in candidates if 0 < end <= max_chars and head[:end].strip()]

    items = [m.start() for m in starts if not head[: m.start()].rstrip().endswith(":")]
    # An item's label or a heading closes the cut only when nothing else can.
    ends = usable(_sentence_ends(head, starts) + items) or usable([m.end() for m in _SENTENCE_END.finditer(head)])
    if ends:
        return head[: max(ends)].rstrip(), True
    return text[:max_chars].rsplit(None, 1)[0].rstrip(), True


def clean_answer(text: str, strip_prefix: bool = False) -> str:
    """Cleaned answer text. `strip_prefix` for MEDIQA answers, which carry the page title."""
    text = _SOFT_WRAP.sub(" ", _GLUED_SENTENCE.sub(". ", normalize_whitespace(text)))
    if "«" in text or "»" in text:  # page navigation; it leaves spaces behind
        text = _QUOTED.sub(r'"\1"', _NEXT_LINK.sub(" ", _NAVIGATION.sub(" ", text)))
        text = normalize_whitespace(text.replace("«", " ").replace("»", " "))
    # The page title is followed by the answer's first sentence, never by a word in lower case: "Do not: drive ..."
    # and "Adults and children over 12: take 2 tablets" are the answer itself ("mRNA", "pH" may follow a title).
    if (
        strip_prefix
        and (title := _TITLE_PREFIX.match(text))
        and not _LOWER_WORD.match(text, title.end())
        and not _DOSE_GROUP.match(text)
    ):
        text = text[title.end() :]
    return _KEY_POINTS.sub("", _TOP_OF_PAGE.sub(" ", text)).strip()


# MedQuAD question templates leave artefacts: "What is (are) X ?", "Who is at risk for X? ?",
# "What causes Causes of X ?".
_QUESTION_FIXES = [
    (re.compile(r"^What is \(are\) ", re.IGNORECASE), "What is "),
    (re.compile(r"^What causes Causes of ", re.IGNORECASE), "What causes "),
    (re.compile(r"\?\s*\?+\s*$"), "?"),
    (re.compile(r"\s+([?.,;:])"), r"\1"),
]


def clean_question(text: str) -> str:
    text = normalize_whitespace(text).replace("\n", " ")
    for pattern, replacement in _QUESTION_FIXES:
        text = pattern.sub(replacement, text)
    return re.sub(r"\s{2,}", " ", text).strip()


def normalize_key(text: str) -> str:
    """Comparison key: case, punctuation and whitespace ignored. Used for duplicates and test overlap."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _NON_WORD.sub(" ", text).strip()


_SPACE_NOT_BETWEEN_NUMBERS = re.compile(r" (?!\d)|(?<!\d) ")
_POSSESSIVE = re.compile(r"(?<=[a-z]) s\b")
# Four letters or more, so that a three-letter acronym is not another ("CFS", "CF"), and every piece of a split word
# too: "x-rays" and "xrays" stay one ("rays", "xrays").
_FINAL_S = re.compile(r"(?<=[a-z]{3})s\b")


def compact_key(text: str) -> str:
    """`normalize_key` without its spaces (but one between two numbers: "1.5 mg" is not "15 mg"), possessives and the
    final "s" of words of four letters or more, for telling whether two questions are one ("I'm" and "Im")."""
    return _SPACE_NOT_BETWEEN_NUMBERS.sub("", _FINAL_S.sub("", _POSSESSIVE.sub("s", normalize_key(text))))


JUNK_ANSWERS = frozenset({"topics", "summary", "see also", "related topics", "key points", "n/a", "none"})
# A page's placeholder where the answer was: "This answer has been removed due to copyright restrictions.",
# "Answer not available.", "N/A - answer removed", "Content coming soon".
_PLACEHOLDER = re.compile(
    r"^(?:n/?a|tbd|no (?:answer|content|information)(?: (?:is )?(?:available|provided))?(?: yet)?|"
    r"answer not (?:yet )?(?:available|provided)(?: yet)?|"
    r"coming soon|(?:this |the )?(?:answer|content|text|article|page|section|response)s? (?:has been |have been |"
    r"was |were |is |are )?(?:temporarily )?(?:removed|deleted|withheld|redacted|unavailable|not (?:yet )?"
    r"(?:available|provided)|coming soon|under construction))"
    r"(?:\s*[-–:,]\s*[^.]{0,60}|\s+(?:due to|because of|at the request of|at (?:the )?\w+'?s? request|pending|until|"
    r"by (?:the |an? |our )?(?:moderators?|"
    r"administrators?|admins?|author|site|editors?|staff))\b[^.]{0,60})?\.?$",
    re.IGNORECASE,
)
MAX_PLACEHOLDER_CHARS = 200
# A question a MedQuAD template made with an empty focus: the template's words and nothing else ("Who is at risk
# for ? ?", "How to prevent ?" on CDC pages with `<Focus></Focus>`).
_EMPTY_TEMPLATE = re.compile(
    r"^(?:who is at risk for|how to (?:prevent|diagnose)|what (?:is|are) the (?:symptoms|treatments|outlook|"
    r"complications|stages|genetic changes related to)(?: (?:of|for))?|what causes|what (?:is|are)(?: \(are\))?|"
    r"what to do for|how many people are affected by|what research \(or clinical trials\) is being done for|"
    r"(?:is|are) (?:it|they)? ?inherited|do you have information about)\s*\??$",
    re.IGNORECASE,
)


def names_nothing(question: str) -> bool:
    """A MedQuAD template question with nothing where its subject goes."""
    return bool(_EMPTY_TEMPLATE.match(question.strip()))


def junk_reason(question: str, answer: str, min_chars: int) -> str | None:
    """Why an answer is unusable, or None. Reasons are the names counted in the dataset's metadata."""
    if not answer:
        return "empty_answer"
    # Keys only where they can matter: junk words are short, and an answer as long as two questions is no copy.
    key = normalize_key(answer) if len(answer) <= 2 * len(question) + 40 else None
    if key is not None and key in JUNK_ANSWERS:
        return "junk_answer"
    if len(answer) <= MAX_PLACEHOLDER_CHARS and _PLACEHOLDER.match(answer):
        return "placeholder_answer"
    if key is not None and key == normalize_key(question):
        return "answer_equals_question"
    if len(answer) < min_chars:
        return "answer_too_short"
    return None

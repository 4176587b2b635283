"""Page notices appended to a real-looking answer: disclaimers, copyright and licence lines, social-media and app
prompts, reference lists. `boilerplate_lines.tsv` is what the rules were written on, batches 3 and 4 came later
(the learned notice model is trained on all three); the `heldout` files were written without sight of the rules or
the model and never used to adjust either (docs/dataset.md has the numbers)."""

from pathlib import Path

import pytest

from medimind_assets.data.boilerplate import scrub_answer
from medimind_assets.data.cleaning import clean_answer
from medimind_assets.data.segments import split_segments

HERE = Path(__file__).parent
BODY = (
    "Gout is a form of arthritis that causes sudden attacks of pain and swelling in a joint, often the big toe. "
    "It happens when uric acid builds up in the blood and forms crystals in the joint."
)


def _lines(name: str) -> list[tuple[str, str]]:
    rows = [line.split("\t") for line in (HERE / name).read_text(encoding="utf-8").splitlines()]
    return [(kind, text.replace("\\n", "\n")) for kind, text in (r for r in rows if r[0] and r[0][0] != "#")]


def _scrubbed(line: str) -> str:
    out = scrub_answer("What is gout?", clean_answer(f"{BODY}\n{line}"), min_chars=20)
    assert out.rejected is None
    return out.text


def _removed(line: str) -> bool:
    """The notice's own sentence is gone (a sentence of advice after it, "Always consult your GP.", may stay)."""
    text = _scrubbed(line)
    return text.startswith(BODY) and split_segments(clean_answer(line))[0].text not in text


# Development lines still missed: a site's emergency banner tells the reader to get urgent help, which an answer's
# text never loses; the others name no page, advice or professional the rules or the model know.
KNOWN_MISSES = (
    "If you think you may have a medical emergency",
    "In an emergency dial 000",
    "Advice given by our online pharmacist",
    "Related articles:",
    "ref: harrisons principles",
    # Batch 5: an affiliate line, another language, a funding disclosure, forum and share prompts.
    "As an Amazon Associate",
    "Avertissement :",
    "Disclosure: The author has received",
    "If you liked this post",
    "Sent from my iPhone",
    "Related posts:",
    "Tag a friend",
    "Best answer chosen by asker",
    # Batch 6: two more languages, a crisis line (kept on purpose: a crisis resource is never cut), product and
    # forum lines, teasers, and sources named without a page, a year or an identifier.
    "Ce document est fourni",
    "This service is not monitored 24 hours a day",
    "The symptom checker is not a diagnostic tool",
    "यह जानकारी",
    "Panadol® and Calpol®",
    "3 people reacted to this",
    "Originally posted by",
    "Trending now:",
    "Next article:",
    "Key references",
    "Additional sources consulted:",
    "Based on the NICE clinical knowledge summary",
)
KNOWN_MISS = pytest.mark.xfail(reason="a known miss (see KNOWN_MISSES)", strict=True)


def _params(name: str, tag: str) -> list:
    return [
        pytest.param(kind, line, id=f"{tag}{kind}-{i}", marks=[KNOWN_MISS] if line.startswith(KNOWN_MISSES) else [])
        for i, (kind, line) in enumerate(_lines(name))
    ]


# The first batch, the third to the sixth (written later, by helpers without sight of the rules or the
# model).
DEVELOPMENT = (
    _params("boilerplate_lines.tsv", "")
    + _params("boilerplate_lines_batch3.tsv", "batch3-")
    + _params("boilerplate_lines_batch4.tsv", "batch4-")
    + _params("boilerplate_lines_batch5.tsv", "batch5-")
    + _params("boilerplate_lines_batch6.tsv", "batch6-")
)


@pytest.mark.parametrize("kind,line", DEVELOPMENT)
def test_each_development_line_is_removed_or_kept_as_labelled(kind, line):
    if kind == "keep":
        assert clean_answer(line) in _scrubbed(line)
    else:
        assert _removed(line)


# Measured (docs/dataset.md), rules alone -> rules and the learned model (trained on batches 1 and 3 to 6): held
# out 1, 48 -> 55 of 60; held out 2, 38 -> 47; held out 3 (written with batch 4, before the model), 31 -> 42; held
# out 4 (written with batch 5), 36 -> 45; held out 5 (written with batch 6), 44; held out 6 (on arrival), 49. None was read line by line; every
# content line stays in each.
@pytest.mark.parametrize(
    ("name", "at_least"),
    [
        ("boilerplate_lines_heldout.tsv", 55),
        ("boilerplate_lines_heldout2.tsv", 47),
        ("boilerplate_lines_heldout3.tsv", 42),
        ("boilerplate_lines_heldout4.tsv", 45),
        ("boilerplate_lines_heldout5.tsv", 44),
        ("boilerplate_lines_heldout6.tsv", 49),
    ],
)
def test_held_out_lines_most_notices_removed_no_content_lost(name, at_least):
    rows = _lines(name)
    notices = [line for kind, line in rows if kind != "keep"]
    keep = [line for kind, line in rows if kind == "keep"]
    removed = sum(_removed(line) for line in notices)
    kept = sum(clean_answer(line) in _scrubbed(line) for line in keep)
    assert (len(notices), len(keep)) == (60, 40)
    assert removed >= at_least and kept == 40, (removed, kept)

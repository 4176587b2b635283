"""Page notices appended to a real-looking answer: disclaimers, copyright and licence lines, social-media and app
prompts, reference lists. `boilerplate_lines.tsv` is what the rules were written on; `boilerplate_lines_heldout.tsv`
was written without sight of them and never used to adjust them (docs/dataset.md has both numbers)."""

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


# A notice whose first sentence says nothing of a page, advice or a professional.
KNOWN_MISS = pytest.mark.xfail(reason="its first sentence names no page, advice or professional", strict=True)
DEVELOPMENT = [
    pytest.param(kind, line, id=f"{kind}-{i}", marks=[KNOWN_MISS] if line.startswith("We are not doctors") else [])
    for i, (kind, line) in enumerate(_lines("boilerplate_lines.tsv"))
]
# The third batch, written later by a helper without sight of the rules: the two notices still missed are known.
BATCH3_MISSES = ("If you think you may have a medical emergency", "Coverage decisions are made by your plan")
BATCH3 = [
    pytest.param(kind, line, id=f"batch3-{kind}-{i}", marks=[KNOWN_MISS] if line.startswith(BATCH3_MISSES) else [])
    for i, (kind, line) in enumerate(_lines("boilerplate_lines_batch3.tsv"))
]


@pytest.mark.parametrize("kind,line", DEVELOPMENT + BATCH3)
def test_each_development_line_is_removed_or_kept_as_labelled(kind, line):
    if kind == "keep":
        assert clean_answer(line) in _scrubbed(line)
    else:
        assert _removed(line)


# Measured (docs/dataset.md): held out 1, 48 of 60 (43 before the batch-3 rules); held out 2, written with batch 3
# by the same hand, 38 of 60 (36 before). Neither was read line by line; every content line stays in both.
@pytest.mark.parametrize(
    ("name", "at_least"), [("boilerplate_lines_heldout.tsv", 47), ("boilerplate_lines_heldout2.tsv", 38)]
)
def test_held_out_lines_most_notices_removed_no_content_lost(name, at_least):
    rows = _lines(name)
    notices = [line for kind, line in rows if kind != "keep"]
    keep = [line for kind, line in rows if kind == "keep"]
    removed = sum(_removed(line) for line in notices)
    kept = sum(clean_answer(line) in _scrubbed(line) for line in keep)
    assert (len(notices), len(keep)) == (60, 40)
    assert removed >= at_least and kept == 40, (removed, kept)

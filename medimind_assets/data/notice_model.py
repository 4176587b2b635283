"""The learned part of the page-notice rules: a logistic model over the words of one segment that says whether it
is a page's notice rather than answer content, for wordings no rule of `data/sentence_rules.py` names
(`docs/dataset.md`, "The learned notice model"). Trained by `benchmarks/train_notice_model.py`; the weights are in
`notice_model.json`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

MODEL_PATH = Path(__file__).with_name("notice_model.json")
_TOKEN = re.compile(r"[^\W\d_]+|\d+|[©®™@#★|]")
_URL = re.compile(r"https?://|www\.|\.(?:com|org|gov|net|nhs\.uk|edu)\b", re.IGNORECASE)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


def features(text: str) -> set[str]:
    """Its words and word pairs (lower case, numbers as 0), and a few shapes: a web address, a year, an opening
    label, capitals only, no closing punctuation, and its length in steps of five words."""
    words = ["0" if w[0].isdigit() else w for w in _TOKEN.findall(text.casefold())]
    found = set(words) | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}
    found.add(f"<words {min(len(words) // 5, 8)}>")
    if _URL.search(text):
        found.add("<web address>")
    if _YEAR.search(text):
        found.add("<year>")
    if text.isupper():
        found.add("<capitals>")
    if not text.rstrip("\"'”’)]").endswith((".", "!", "?")):
        found.add("<no full stop>")
    return found


@cache
def load_model(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def logistic(model: dict, names: Iterable[str]) -> float:
    """P(yes) of a logistic model (its `bias` and `weights` by feature name) for the features present (also the
    safety model's, `data/safety.py`)."""
    weights = model["weights"]
    return 1.0 / (1.0 + math.exp(-(model["bias"] + sum(weights.get(name, 0.0) for name in names))))


def notice_score(text: str) -> float:
    """P(page notice) of one segment."""
    return logistic(load_model(MODEL_PATH), features(text))


def is_page_notice(text: str, segment: bool = False) -> bool:
    """Whether a closing line (or, `segment`, one sentence of it: held to a stricter threshold) is a page notice."""
    return notice_score(text) >= load_model(MODEL_PATH)["segment_threshold" if segment else "threshold"]

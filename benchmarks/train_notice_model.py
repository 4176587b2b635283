"""Train the learned part of the page-notice rules (`medimind_assets/data/notice_model.py`): a logistic model over
the words of a segment that says whether a segment closing an answer is a page notice.

Positives: the segments of the development notice lines (`boilerplate_lines.tsv`, `_batch3`, `_batch4`; never the
held-out files), but for the sentences sending the reader to a professional, which go with a notice only when they
follow one. Negatives: the development `keep` lines, and every segment and the closing lines of every trainable answer of
the corpus as the rules leave them (built here with the model off). Full-batch gradient descent from zeros: deterministic.

Before it writes anything it prints, for each threshold:
- across batches: trained on the earlier development files, the notices of the last one removed and its content
  lines kept, through the whole cleaning (`scrub_answer`);
- on the corpus: how many answers the model would cut further, with examples (`--examples`) to read.
Then the held-out files' totals with the chosen threshold (never used to choose it).

    PYTHONPATH=. .venv/bin/python benchmarks/train_notice_model.py --raw ../shared/data [--dry-run] [--examples 40]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
from scipy import sparse

from medimind_assets.data import notice_model, sentence_rules
from medimind_assets.data.build import build_dataset
from medimind_assets.data.cleaning import clean_answer
from medimind_assets.data.segments import split_segments
from medimind_assets.data.sentence_rules import MAX_NOTICE_WORDS
from medimind_assets_tests.data.test_boilerplate_lines import HERE, _lines, _removed, _scrubbed

DEVELOPMENT = tuple(f"boilerplate_lines{n}.tsv" for n in ("", "_batch3", "_batch4", "_batch5", "_batch6"))
HELD_OUT = tuple(f"boilerplate_lines_heldout{n}.tsv" for n in ("", "2", "3", "4", "5", "6"))
L2 = 1.0
STEPS = 1500
THRESHOLDS = (0.6, 0.7, 0.8)
THRESHOLD = 0.7
MARGINS = (0.1, 0.2)
SEGMENT_MARGIN = 0.2  # a single sentence needs this much more P(notice) than a line
CORPUS_WEIGHT = 15.0  # the corpus's segments together weigh this many times the notices
CORPUS_TAIL = 3  # segments from the end of each answer taken as negatives
MIN_COUNT = 2  # a feature seen fewer times is left out
MIN_WEIGHT = 0.02  # a smaller weight is left out of the model file


def _units(text: str) -> list[str]:
    """What the model is asked about: each line of `text`, and each segment of a line of more than one."""
    out = []
    for line in clean_answer(text).split("\n"):
        segments = [seg.text for seg in split_segments(line)]
        out += [line.strip()] + (segments if len(segments) > 1 else [])
    return [u for u in out if u]


def _corpus_units(answer: str) -> list[str]:
    """A corpus answer's lines (but the first) that end it, and every segment of it: content, as the rules leave it
    (sentences with years, numbers and "our" included, which a notice's words alone would call notices)."""
    lines = [line.strip() for line in answer.split("\n") if line.strip()]
    segments = [seg.text for seg in split_segments(answer) if len(seg.text.split()) <= MAX_NOTICE_WORDS]
    return lines[1:][-CORPUS_TAIL:] + segments


def _examples(files: tuple[str, ...], corpus_units: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    texts, labels, weights = [], [], []
    for name in files:
        if not (HERE / name).exists():
            continue
        for kind, line in _lines(name):
            for text in _units(line):
                if kind != "keep" and sentence_rules._ASK_A_PROFESSIONAL.search(text):
                    continue  # advice goes with a notice only after one
                texts.append(text)
                labels.append(kind != "keep")
                weights.append(1.0 if kind != "keep" else 3.0)
    n_pos = sum(labels)
    texts += corpus_units
    labels += [False] * len(corpus_units)
    # Weighed together, not one by one: thousands of them would drown a few hundred notices.
    weights += [CORPUS_WEIGHT * n_pos / max(len(corpus_units), 1)] * len(corpus_units)
    return texts, np.array(labels, dtype=float), np.array(weights)


def fit(texts: list[str], y: np.ndarray, w: np.ndarray) -> dict:
    feats = [notice_model.features(t) for t in texts]
    counts: dict[str, int] = {}
    for found in feats:
        for name in found:
            counts[name] = counts.get(name, 0) + 1
    names = sorted(n for n, c in counts.items() if c >= MIN_COUNT)
    index = {n: i for i, n in enumerate(names)}
    cells = [(row, index[name]) for row, found in enumerate(feats) for name in found if name in index]
    rows, cols = zip(*cells, strict=True)
    x = sparse.csr_matrix((np.ones(len(cells)), (rows, cols)), shape=(len(texts), len(names)))
    coef, bias, total = np.zeros(len(names)), 0.0, w.sum()
    for _ in range(STEPS):
        p = 1.0 / (1.0 + np.exp(-(x @ coef + bias)))
        g = w * (p - y)
        coef -= 2.0 * (x.T @ g / total + L2 * coef / total)
        bias -= 2.0 * float(g.sum() / total)
    return {
        "bias": round(bias, 4),
        "weights": {n: round(float(c), 4) for n, c in zip(names, coef, strict=True) if abs(c) >= MIN_WEIGHT},
    }


def _use(model: dict, threshold: float, margin: float = SEGMENT_MARGIN) -> None:
    thresholds = {"threshold": threshold, "segment_threshold": min(threshold + margin, 0.99)}
    notice_model.load_model = lambda path: {**model, **thresholds}  # type: ignore[assignment]


def _judge_lines(name: str) -> tuple[int, int, int, int]:
    rows = _lines(name)
    notices = [line for kind, line in rows if kind != "keep"]
    keep = [line for kind, line in rows if kind == "keep"]
    return (
        sum(_removed(line) for line in notices),
        len(notices),
        sum(clean_answer(line) in _scrubbed(line) for line in keep),
        len(keep),
    )


def _corpus_cuts(rows: list[dict], limit: int) -> tuple[int, list[str]]:
    cut, shown = 0, []
    for row in rows:
        segments = split_segments(row["response"])
        hits: dict[int, str] = {}
        sentence_rules._closing_notices(row["response"], segments, hits)
        if hits:
            cut += 1
            if len(shown) < limit:
                shown.append(f"{row['origin']}: " + " || ".join(segments[i].text for i in sorted(hits)))
    return cut, shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dry-run", action="store_true", help="print the numbers, write nothing")
    parser.add_argument("--held-out", action="store_true", help="then the held-out files' totals (never to tune on)")
    parser.add_argument("--examples", type=int, default=0, help="corpus cuts to print at the chosen threshold")
    args = parser.parse_args()
    _use({"bias": -50.0, "weights": {}}, 0.5)  # the corpus as the rules alone leave it
    rows = [r for r in build_dataset(args.raw).rows if r["split"] != "test"]
    tails = sorted({unit for r in rows for unit in _corpus_units(r["response"])})
    print(f"corpus: {len(rows):,} trainable answers, {len(tails):,} distinct lines and segments as negatives")
    present = [n for n in DEVELOPMENT if (HERE / n).exists()]
    *earlier, last = present
    across = fit(*_examples(tuple(earlier), tails))
    full = fit(*_examples(tuple(present), tails))
    sample = random.Random(0).sample(rows, min(len(rows), 4000))
    for threshold in THRESHOLDS:
        for margin in MARGINS:
            _use(across, threshold, margin)
            removed, notices, kept, keep = _judge_lines(last)
            _use(full, threshold, margin)
            cut, _ = _corpus_cuts(sample, 0)
            print(
                f"@{threshold} (+{margin} for a segment): across batches ({last}) notices {removed}/{notices}, "
                f"content {kept}/{keep}; corpus answers cut further {cut}/{len(sample)} (a sample)"
            )
    _use(full, THRESHOLD)
    cut, shown = _corpus_cuts(rows, args.examples)
    print(f"chosen @{THRESHOLD}: corpus answers cut further {cut:,}/{len(rows):,}")
    for line in shown:
        print("  " + line[:300])
    for name in HELD_OUT if args.held_out else ():
        if (HERE / name).exists():
            removed, notices, kept, keep = _judge_lines(name)
            print(f"held out {name}: notices {removed}/{notices}, content {kept}/{keep}")
    model = {
        "description": "Logistic model over a segment's words (data/notice_model.py): P(page notice).",
        "trained_on": {name: len(_lines(name)) for name in present} | {"corpus lines and segments": len(tails)},
        "l2": L2,
        "steps": STEPS,
        "threshold": THRESHOLD,
        "segment_threshold": min(THRESHOLD + SEGMENT_MARGIN, 0.99),
        **full,
    }
    if args.dry_run:
        return
    notice_model.MODEL_PATH.write_text(json.dumps(model, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {notice_model.MODEL_PATH} ({len(model['weights'])} weights)")


if __name__ == "__main__":
    main()

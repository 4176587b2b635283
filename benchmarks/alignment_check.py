"""The question-answer alignment rule (`medimind_assets/data/alignment.py`) against the hand-checked sample in
`benchmarks/alignment_labels.tsv`: of the answers it rejects as `answers_other_question`, how many were judged not
to answer their question (precision), how many of those it finds (recall), and how many good answers it loses, for
the groups the rule was tuned on (dev) and the others (held-out).

    PYTHONPATH=. .venv/bin/python benchmarks/alignment_check.py --raw ../shared/data [--raw /path/to/more/raw]

The sample also covers `7_SeniorHealth_QA`, which `../shared/data` lacks: give a second `--raw` that holds
`medquad/7_SeniorHealth_QA/` (upstream MedQuAD) to count those rows; rows whose file is absent are skipped and
counted as such.
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter, defaultdict
from pathlib import Path

from medimind_assets.data.alignment import answers_that_fit
from medimind_assets.data.build import BuildOptions, _medquad_candidates, _prepare
from medimind_assets.data.cleaning import normalize_key

LABELS = Path(__file__).with_name("alignment_labels.tsv")


def _labels() -> dict[tuple[str, str], dict[str, str]]:
    lines = [line for line in LABELS.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return {(row["origin"], row["qid"]): row for row in csv.DictReader(lines, delimiter="\t")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, action="append", required=True, help="raw folders (repeatable)")
    args = parser.parse_args()
    labels = _labels()
    groups: dict[tuple[str, str], list] = defaultdict(list)
    options = BuildOptions()
    for raw in args.raw:
        for cand in _medquad_candidates(raw, {}):
            if (cand.origin, cand.answer_id.split(":")[-1]) not in labels:
                continue
            reason, item = _prepare(cand, options)
            if item is not None:
                groups[(cand.collection, normalize_key(item.question))].append(item)
    tally: dict[str, Counter] = defaultdict(Counter)
    found = set()
    for items in groups.values():
        keep = answers_that_fit([(i.question, i.answer, i.cand.qtype) for i in items])
        for item, kept in zip(items, keep, strict=True):
            key = (item.cand.origin, item.cand.answer_id.split(":")[-1])
            found.add(key)
            row = labels[key]
            truth = "good" if row["label"] == "yes" else "off"
            tally[row["set"]][f"{truth}_{'kept' if kept else 'rejected'}"] += 1
    print(f"{len(found)} of {len(labels)} hand-checked answers found in the raw folders given")
    for name in ("dev", "held-out"):
        t = tally[name]
        rejected = t["off_rejected"] + t["good_rejected"]
        precision = t["off_rejected"] / rejected if rejected else 1.0
        recall = t["off_rejected"] / (t["off_rejected"] + t["off_kept"]) if t["off_rejected"] + t["off_kept"] else 1.0
        good = t["good_rejected"] + t["good_kept"]
        print(
            f"{name:9s} answers {sum(t.values()):4d}  rejected {rejected:3d}  precision {precision:.3f}  "
            f"recall {recall:.3f}  good answers lost {t['good_rejected']}/{good}"
        )


if __name__ == "__main__":
    main()

"""Text that recurs across one collection's answers: the page template (a header, a footer, the agency's line) that no
rule names, found by counting (`docs/dataset.md`, "Recurring text per collection").

A recurring segment is template when it is not a sentence and opens or closes at least `EDGE_SHARE` of the answers
holding it: that is where a page template puts its lines, and an answer's own sentences are rarely fixed to an
edge. Content (`sentence_rules.is_content`: urgent-care advice, a crisis line, a dose) is never template.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from medimind_assets.data.segments import Segment, drop_segments, split_segments
from medimind_assets.data.sentence_rules import is_content

MIN_SHARE = 0.01
MIN_ANSWERS = 5
EDGE_SHARE = 0.9


def _key(seg: Segment) -> str:
    """A segment's text as compared across answers: case and closing punctuation ignored (cheaper than
    `Segment.key`, and a page template repeats its lines character for character)."""
    return seg.text.casefold().rstrip(" .:;!?")


@dataclass
class RecurringText:
    """Counts segments over each collection's answers (`observe`), then says which are template (`template`) and
    removes them from an answer (`remove`)."""

    answers: Counter = field(default_factory=Counter)  # collection -> answers observed
    holders: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # collection -> key -> answers
    # collection -> key -> the answers where it is first or last
    at_edge: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    # collection -> key -> (whether it is a sentence, its text, the origin of its first answer)
    first: dict[str, dict[str, tuple[bool, str, str]]] = field(default_factory=lambda: defaultdict(dict))

    def observe(self, collection: str, answer: str, origin: str, segments: list[Segment] | None = None) -> None:
        """Count the segments of one answer (`segments`: those of `answer`, when the caller has them)."""
        self.answers[collection] += 1
        segments = split_segments(answer) if segments is None else segments
        seen: set[str] = set()
        for n, seg in enumerate(segments):
            key = _key(seg)
            if not key or key in seen:
                continue
            seen.add(key)
            self.holders[collection][key] += 1
            self.at_edge[collection][key] += n == 0 or n == len(segments) - 1
            self.first[collection].setdefault(key, (seg.ends_sentence, seg.text, origin))

    def recurring(self, collection: str) -> list[tuple[str, int]]:
        """(key, answers holding it) of the recurring segments of a collection, most frequent first."""
        floor = max(MIN_ANSWERS, MIN_SHARE * self.answers[collection])
        counts = self.holders.get(collection, Counter())
        return [(key, n) for key, n in counts.most_common() if n >= floor]

    def template(self, collection: str) -> set[str]:
        edge, first = self.at_edge[collection], self.first[collection]
        return {
            key
            for key, n in self.recurring(collection)
            if not first[key][0] and edge[key] >= EDGE_SHARE * n and not is_content(first[key][1])
        }

    def remove(self, answer: str, template: set[str]) -> tuple[str, bool]:
        """`answer` without its template segments, and whether any was there."""
        if not template:
            return answer, False
        dropped = [seg for seg in split_segments(answer) if _key(seg) in template]
        return drop_segments(answer, dropped), bool(dropped)

    def report(self, limit: int = 10) -> list[dict]:
        """The recurring segments of every collection worth a reader's look, for the dataset's metadata: template, or
        of at least three words (a list item "Fever" recurs because it is common, not because a template put it there).
        """
        out = []
        for collection in sorted(self.answers):
            template = self.template(collection)
            recurring = [(key, n) for key, n in self.recurring(collection) if key in template or key.count(" ") >= 2]
            for key, n in recurring[:limit]:
                _, text, origin = self.first[collection][key]
                out.append(
                    {
                        "collection": collection,
                        "text": text[:160],
                        "answers": n,
                        "share": round(n / self.answers[collection], 4),
                        "removed": key in template,
                        "example": origin,
                    }
                )
        return out

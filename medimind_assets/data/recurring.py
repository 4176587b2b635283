"""Text that recurs across one collection's answers: the page template (a header, a footer, the agency's line) that no
rule names, found by counting, so that it is found in collections no rule was written from.

A segment (`data/segments.py`: a sentence, list item or line) recurs when its normalised text is in at least
`MIN_SHARE` of a collection's answers, and in at least `MIN_ANSWERS` of them. Every recurring segment is reported
(how many answers hold it, its share, an example). One is removed, as template rather than answer content, when it
is not a sentence (no final `.`, `!` or `?`) and it opens or closes the answer in at least `EDGE_SHARE` of the
answers that hold it: that is where a page template puts its lines, and an answer's own sentences are rarely
fixed to an edge. Recurring sentences in the middle of answers ("Treatment is based on the signs and symptoms
present in each person.", the inheritance paragraphs shared by hundreds of GHR pages) are content and stay; an
answer given whole to many questions is capped by the dataset build instead.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from medimind_assets.data.segments import Segment, drop_segments, split_segments

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
    at_edge: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # ... answers where it is first/last
    sentence: dict[str, dict[str, bool]] = field(default_factory=lambda: defaultdict(dict))
    example: dict[str, dict[str, tuple[str, str]]] = field(default_factory=lambda: defaultdict(dict))  # text, origin

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
            self.sentence[collection].setdefault(key, seg.ends_sentence)
            self.example[collection].setdefault(key, (seg.text, origin))

    def recurring(self, collection: str) -> list[tuple[str, int]]:
        """(key, answers holding it) of the recurring segments of a collection, most frequent first."""
        floor = max(MIN_ANSWERS, MIN_SHARE * self.answers[collection])
        counts = self.holders.get(collection, Counter())
        return [(key, n) for key, n in counts.most_common() if n >= floor]

    def reportable(self, collection: str) -> list[tuple[str, int]]:
        """The recurring segments worth a reader's look: template, or of at least three words (a list item
        "Fever" recurs because it is common, not because a page template put it there)."""
        template = self.template(collection)
        return [(key, n) for key, n in self.recurring(collection) if key in template or key.count(" ") >= 2]

    def template(self, collection: str) -> set[str]:
        edge, sentence = self.at_edge[collection], self.sentence[collection]
        return {
            key for key, n in self.recurring(collection) if not sentence[key] and edge[key] >= EDGE_SHARE * n
        }

    def remove(self, answer: str, template: set[str]) -> tuple[str, bool]:
        """`answer` without its template segments, and whether any was there."""
        if not template:
            return answer, False
        dropped = [seg for seg in split_segments(answer) if _key(seg) in template]
        return (drop_segments(answer, dropped), True) if dropped else (answer, False)

    def report(self, limit: int = 10) -> list[dict]:
        """The recurring segments of every collection, for the dataset's metadata."""
        out = []
        for collection in sorted(self.answers):
            template = self.template(collection)
            for key, n in self.reportable(collection)[:limit]:
                text, origin = self.example[collection][key]
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

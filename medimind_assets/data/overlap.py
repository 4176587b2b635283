"""Near-duplicate detection of training answers against the MEDIQA 2019 test candidate answers, and of questions
against the test questions (`docs/dataset.md`, "No test text in training").

MEDIQA's and MedQuAD's answers are excerpts of the same pages, cut at other places: the measure is shingle
containment, |S(a) & S(b)| / min(|S(a)|, |S(b)|) over the word 5-grams of `normalize_key`, leaving out those in
`COMMON_IN_ANSWERS` or more distinct training answers (formulaic paragraphs many pages share are no evidence).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from itertools import chain

from medimind_assets.data.cleaning import clean_question, compact_key, normalize_key
from medimind_assets.data.safety_text import edit_distance

SHINGLE_WORDS = 5
COMMON_IN_ANSWERS = 10

Shingle = int  # the hash of the words: sets of ints are several times faster to build and compare than of tuples


def shingles(key: str) -> set[Shingle]:
    """Word 5-grams of a `normalize_key` output (the whole text, when shorter), each as its hash (within one process;
    a collision of two 64-bit hashes is negligible)."""
    words = key.split()
    if len(words) < SHINGLE_WORDS:
        return {hash(tuple(words))} if words else set()
    return set(map(hash, zip(*(words[i:] for i in range(SHINGLE_WORDS)), strict=False)))


def _postings(sets: list[set]) -> dict:
    """Each gram -> the positions of the sets holding it."""
    postings = defaultdict(list)
    for number, grams in enumerate(sets):
        for gram in grams:
            postings[gram].append(number)
    return postings


class ShingleIndex:
    """Texts indexed by their shingles, for the best containment similarity of a new text against any of them.
    Shingles in `ignore` count on neither side (see `ignore`)."""

    def __init__(self, shingle_sets: Iterable[set[Shingle]], ignore: set[Shingle] | frozenset = frozenset()) -> None:
        self._sets = list(shingle_sets)
        self._postings: dict[Shingle, list[int]] = _postings(self._sets)
        self.ignore(ignore)

    def ignore(self, shingles_to_ignore: set[Shingle] | frozenset) -> None:
        """Leave these shingles out from now on (cheap: the postings stay, the sizes are recounted)."""
        self._ignore = shingles_to_ignore
        self._sizes = [len(grams) - len(grams & shingles_to_ignore) for grams in self._sets]

    def best_match(self, grams: set[Shingle]) -> tuple[float, int | None]:
        """(highest similarity of a text, given by its shingles, to an indexed text; that text's position), or
        (0.0, None) without any shared shingle."""
        grams = grams - self._ignore
        if not grams:
            return 0.0, None
        postings = self._postings
        shared = Counter(chain.from_iterable(postings[g] for g in grams if g in postings))
        best, where = 0.0, None
        for number, count in shared.items():
            score = count / min(len(grams), self._sizes[number])
            if score > best:
                best, where = score, number
        return best, where


QUESTION_GRAM_WORDS = 3
MIN_QUESTION_GRAMS = 6  # a test question with fewer word 3-grams is too short to be told apart ("what is gout")
MIN_HELD_WORDS = 4  # ... but one of four words or more, held whole in another question, is that question
NEAR_QUESTION = 0.8


def _question_grams(key: str) -> set[tuple[str, ...]]:
    words = key.split()
    return set(zip(*(words[i:] for i in range(QUESTION_GRAM_WORDS)), strict=False))


MAX_SPELT_WORDS = 12  # a test question this short may also come back with one word spelt another way


def _spelt_alike(a: str, b: str) -> bool:
    """One word spelt two ways ("loose"/"lose", "ibuprofin"/"ibuprofen", "to"/"too"): letters only, one edit apart
    (two for words of six letters or more); never two numbers ("type 1"/"type 2") or two words ("men"/"women")."""
    if not (a.isalpha() and b.isalpha()):
        return False
    return edit_distance(a, b, 2) <= (2 if min(len(a), len(b)) >= 6 else 1)


class NearTestQuestions:
    """The MEDIQA test questions, for telling when another question is one: equal after `compact_key`, or holding
    one nearly whole (`NEAR_QUESTION` of its word 3-grams: a subject line in front, "loosing" for "losing"), a short
    one whole, or a short one with one word spelt another way ("how to lose weight" for "how to loose weight")."""

    def __init__(self, questions: Iterable[str]) -> None:
        cleaned = [clean_question(q) for q in questions]
        self._equal = {compact_key(q) for q in cleaned}
        keys = [normalize_key(q) for q in cleaned]
        self._sets = [grams for grams in map(_question_grams, keys) if len(grams) >= MIN_QUESTION_GRAMS]
        short = sorted(
            {k for k in keys if len(k.split()) >= MIN_HELD_WORDS and len(_question_grams(k)) < MIN_QUESTION_GRAMS}
        )
        self._short = re.compile(r"(?<!\S)(?:" + "|".join(map(re.escape, short)) + r")(?!\S)") if short else None
        # Each short test question with one word left out, for its other spellings: (words, position) -> the word.
        self._one_word_out: dict[tuple[tuple[str, ...], int], set[str]] = defaultdict(set)
        for words in (k.split() for k in keys if 2 <= len(k.split()) <= MAX_SPELT_WORDS):
            for at, word in enumerate(words):
                self._one_word_out[(tuple(words[:at] + words[at + 1 :]), at)].add(word)
        self._postings: dict[tuple[str, ...], list[int]] = _postings(self._sets)

    def match(self, question: str) -> str | None:
        """`overlaps_test_question` or `near_test_question` (the rejection reasons) for a cleaned question that is
        a test question, else None."""
        if compact_key(question) in self._equal:
            return "overlaps_test_question"
        return "near_test_question" if self.held_in(normalize_key(question)) else None

    def held_in(self, key: str) -> bool:
        if self._short is not None and self._short.search(key):
            return True
        words = key.split()
        if len(words) <= MAX_SPELT_WORDS:
            for at, word in enumerate(words):
                test_words = self._one_word_out.get((tuple(words[:at] + words[at + 1 :]), at), ())
                if any(_spelt_alike(word, other) for other in test_words):
                    return True
        shared = Counter(chain.from_iterable(self._postings.get(g, ()) for g in _question_grams(key)))
        return any(count >= NEAR_QUESTION * len(self._sets[number]) for number, count in shared.items())

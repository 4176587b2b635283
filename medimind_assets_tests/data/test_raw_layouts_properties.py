"""The raw-data fixes over every input of their kind, not only the case first seen: every depth a MedQuAD file can
sit at, every id repeated, every block and inline tag, every undefined entity, every HTML entity escaped."""

import html.entities
import random
from pathlib import Path

import pytest

from medimind_assets.data import mediqa, medquad
from medimind_assets.data.cleaning import clean_answer, clean_question, strip_markup
from medimind_assets.data.errors import RawDataError
from medimind_assets.data.xml_reader import _BLOCK_TAGS

PAIR = '<QAPair><Question qid="{qid}">What is X?</Question><Answer>{answer}</Answer></QAPair>'


def _document(path: Path, pairs: str, doctype: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}<Document id="1"><QAPairs>{pairs}</QAPairs></Document>'
    )
    return path


@pytest.mark.parametrize("depth", [1, 3, 4, 5])
def test_a_medquad_file_at_any_other_depth_is_named(tmp_path, depth):
    folder = tmp_path / "medquad"
    _document(folder / "c" / "ok.xml", PAIR.format(qid="1", answer="X is a thing."))
    misplaced = _document(
        folder.joinpath(*[f"d{i}" for i in range(depth - 1)], "x.xml"), PAIR.format(qid="1", answer="A.")
    )
    with pytest.raises(RawDataError, match=f"{misplaced}: not at medquad/<collection>"):
        medquad.parse_collections(folder)


@pytest.mark.parametrize("qid", ["1", "7", "Q-12", "a b", "0000013_2-1", "ü"])
def test_any_repeated_medquad_id_is_refused(tmp_path, qid):
    path = _document(tmp_path / "c" / "1.xml", PAIR.format(qid=qid, answer="A.") + PAIR.format(qid=qid, answer="B."))
    with pytest.raises(RawDataError, match="appears twice"):
        medquad.parse_medquad_file(path)


@pytest.mark.parametrize("qid", ["1", "25", "LQ-3", "x y"])
def test_any_repeated_mediqa_qid_or_aid_is_refused(tmp_path, qid):
    def question(q, aids):
        answers = "".join(f'<Answer AID="{a}" ReferenceScore="4"><AnswerText>t</AnswerText></Answer>' for a in aids)
        return f'<Question QID="{q}"><QuestionText>q</QuestionText><AnswerList>{answers}</AnswerList></Question>'

    for body, problem in (
        (question(qid, ["a1"]) + question(qid, ["a2"]), f'QID="{qid}" appears twice'),
        (question(qid, [f"{qid}_A", f"{qid}_A"]), f'AID="{qid}_A" appears twice'),
    ):
        path = tmp_path / "m.xml"
        path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<Root>{body}</Root>')
        with pytest.raises(RawDataError, match=problem):
            mediqa.parse_mediqa_file(path)


@pytest.mark.parametrize("tag", sorted(_BLOCK_TAGS - {"br"}))
def test_every_block_tag_keeps_its_text_apart(tmp_path, tag):
    answer = f"<{tag}>First part.</{tag}><{tag}>Second part.</{tag}>"
    path = _document(tmp_path / "c" / "1.xml", PAIR.format(qid="1", answer=answer))
    assert "First part.\n" in medquad.parse_medquad_file(path)[0].answer
    # Escaped in the XML: the same once cleaned; a list item keeps its mark, as the sources write their lists.
    expected = "- First part.\n- Second part." if tag == "li" else "First part.\n\nSecond part."
    assert clean_answer(answer) == expected


@pytest.mark.parametrize("tag", ["b", "i", "u", "em", "strong", "span", "a", "sup", "sub", "font", "small"])
def test_every_inline_tag_leaves_the_words_as_they_were(tag):
    assert clean_answer(f"Take <{tag}>two</{tag}> tablets") == "Take two tablets"


@pytest.mark.parametrize("entity", ["nbsp", "mdash", "copy", "reg", "eacute", "undefinedthing"])
def test_every_entity_skipped_under_an_external_dtd_is_named(tmp_path, entity):
    doctype = '<!DOCTYPE Document SYSTEM "medquad.dtd">\n'
    path = _document(tmp_path / "c" / "1.xml", PAIR.format(qid="1", answer=f"X&{entity};is"), doctype)
    with pytest.raises(RawDataError, match=f"undefined entity &{entity};"):
        medquad.parse_medquad_file(path)


def test_every_html_entity_escaped_once_or_twice_is_decoded():
    for name, char in html.entities.html5.items():
        if name.endswith(";") and name[:-1].isalnum():
            assert strip_markup(f"a &{name} b") == f"a {char} b", name
            assert strip_markup(f"a &amp;{name} b") == f"a {char} b", name


def test_text_without_markup_is_left_exactly_as_it_was():
    """Comparisons and ampersands in prose ("<5 mg/dL", "x > 3", "A & B", "AT&T") are not markup."""
    rng = random.Random(0)
    words = [
        "levels",
        "<5",
        "< 3",
        ">",
        "mg/dL",
        "&",
        "AT&T",
        "R&D",
        "x<y",
        "x>y",
        "b<2",
        "5<6",
        "(see)",
        "Q&A;",
        "i.e.",
        "-",
    ]
    for _ in range(2000):
        text = " ".join(rng.choice(words) for _ in range(rng.randrange(1, 12)))
        assert strip_markup(text) == text


# This session's fixes, over every input of their kind.
_WORDS = "aspirin warfarin dose child fever tablet insulin cream safe daily".split()


def test_only_spaces_between_numbers_tell_compact_keys_apart():
    """Any question: joined words, apostrophes and hyphens compare equal; "1.5" and "15" never do."""
    from medimind_assets.data.cleaning import compact_key

    rng = random.Random(7)
    for _ in range(300):
        words = rng.sample(_WORDS, 4)
        a, b = rng.randint(1, 9), rng.randint(0, 9)
        spaced = f"Is {a}.{b} mg of {words[0]}-{words[1]} {words[2]}'s {words[3]} ok?"
        joined = f"is {a}.{b}mg of {words[0]}{words[1]} {words[2]}s {words[3]} ok"
        assert compact_key(spaced) == compact_key(joined)
        assert compact_key(spaced) != compact_key(spaced.replace(f"{a}.{b}", f"{a}{b}"))


def test_no_placeholder_opening_followed_by_content_is_rejected():
    """Any sentence that starts as a placeholder does and goes on about medicine is an answer."""
    from medimind_assets.data.cleaning import junk_reason

    openings = [
        "No information is available",
        "Information is not available",
        "This content is not provided",
        "NA (noradrenaline)",
        "No answer is known",
        "The text was removed",
    ]
    rng = random.Random(11)
    for opening in openings:
        for _ in range(30):
            rest = " ".join(rng.choices(_WORDS, k=rng.randint(4, 10)))
            answer = f"{opening} on the {rest} in pregnancy, so ask your doctor."
            assert junk_reason("What is X?", answer, 20) is None, answer


@pytest.mark.parametrize("label", ["Adults", "Children", "Dosage", "Normal", "High", "Vitamin D", "Maximum", "Note"])
def test_a_labelled_dose_or_measurement_closing_an_answer_always_stays(label):
    from medimind_assets.data.sentence_rules import furnish

    body = "Gout is a form of arthritis that causes sudden attacks of pain. It happens when uric acid builds up."
    rng = random.Random(label)
    units = ["mg", "ml", "tablets", "puffs", "hours", "mm Hg", "micrograms", "doses", "%", "°C"]
    for _ in range(25):
        line = f"{label}: {rng.randint(1, 500)} {rng.choice(units)} {rng.choice(['a day', 'every 6 hours', 'or less', ''])}"
        line = line.strip() + "."
        assert furnish(f"{body}\n{line}").text.endswith(line), line


# This stop's fixes, over every input of their kind.
# First pieces that do not end in "s" themselves ("lens-scans" and "lensscans" still differ: a known limit).
_PIECES = "x e t ray cig cell scan test blocker drop".split()


def test_a_split_word_a_possessive_and_a_plural_give_one_key_acronyms_stay_apart():
    """Any hyphenated pair of pieces (the second plural) equals its joined form, with or without a possessive; a
    three-letter acronym and its two-letter stem never do."""
    from medimind_assets.data.cleaning import compact_key

    rng = random.Random(11)
    for _ in range(300):
        # The plural piece of three letters or more, as "rays" and "cigs": "x-ts" against "xts" is a known limit.
        first, second = rng.choice(_PIECES), rng.choice([p for p in _PIECES if len(p) >= 3])
        owner = rng.choice(_WORDS)
        hyphenated = f"Are {first}-{second}s safe for {owner}'s child?"
        joined = f"are {first}{second}s safe for {owner} child"
        assert compact_key(hyphenated) == compact_key(joined), (hyphenated, joined)
        acronym = "".join(rng.sample("ABCDFGHKLMNPRTV", 2))
        assert compact_key(f"What is {acronym}S?") != compact_key(f"What is {acronym}?")


def test_a_cut_answer_never_ends_on_an_item_label_or_a_paragraph_heading():
    """Any answer of headed paragraphs and labelled items, cut anywhere: the cut ends after a sentence of content."""
    from medimind_assets.data.cleaning import truncate_at_sentence

    rng = random.Random(13)
    headings = ["Liver cancer.", "Edema and ascites.", "- Alpha-beta blockers.", "- Fever.", "Defecography."]
    for _ in range(300):
        parts = []
        for _ in range(rng.randint(2, 6)):
            words = rng.sample(_WORDS, 6)
            body = f"{words[0].capitalize()} {' '.join(words[1:])} in most people. It lasts {rng.randint(2, 9)} days."
            parts.append(f"{rng.choice(headings)} {body}")
        # Headed paragraphs: in running prose a heading cannot be told from a short sentence.
        text = rng.choice(["\n\n", "\n"]).join(["Overview of the condition for the reader."] + parts)
        cut, was_cut = truncate_at_sentence(text, rng.randint(60, len(text)))
        last = cut.replace("\n", " ").rsplit(". ", 1)[-1].strip()
        assert last not in headings and last.lstrip("- ") not in [h.lstrip("- ") for h in headings], (cut, was_cut)


def test_any_added_token_typed_in_a_question_is_text_for_the_tokenizer():
    from medimind_assets.llm.template import plain_text

    class Tokenizer:
        def get_added_vocab(self):
            return {"<|endoftext|>": 0, "<|im_start|>": 1, "</s>": 2, "[CLS]": 3}

    rng = random.Random(17)
    for _ in range(200):
        token = rng.choice(list(Tokenizer().get_added_vocab()))
        question = f"{rng.choice(_WORDS)} {token}{rng.choice(_WORDS)} {token}"
        assert token not in plain_text(question, Tokenizer())
        assert plain_text(question, Tokenizer()).replace(" ", "") == question.replace(" ", "")


_CRISIS_LINES = [
    "If you feel you cannot keep yourself safe, contact {who} at {phone}.",
    "The {who} Suicide and Crisis Lifeline answers at {phone}, day and night.",
    "Call the Poison Help line at {phone} if a child swallows a battery.",
    "For self-harm support, text {who} on {phone}.",
]


@pytest.mark.parametrize("seed", range(20))
def test_any_crisis_or_poison_line_with_any_phone_number_is_kept(seed):
    """Whatever line of this kind closes an answer, with whatever number and name: content, never contact details."""
    from medimind_assets.data.sentence_rules import furnish

    rng = random.Random(seed)
    phone = rng.choice(["1-800-{a}-{b}", "({a}) {a}-{b}", "0{a} {b}", "{b}", "1{a}{b}"]).format(
        a=rng.randint(200, 999), b=rng.randint(1000, 9999)
    )
    line = rng.choice(_CRISIS_LINES).format(
        who=rng.choice(["Kids Help Phone", "Lifeline", "the 988", "Samaritans"]), phone=phone
    )
    text = f"Gout is a form of arthritis that causes sudden attacks of pain in a joint.\n{line}"
    assert furnish(text).text == text


@pytest.mark.parametrize("seed", range(20))
def test_any_words_in_french_quotation_marks_are_kept(seed):
    rng = random.Random(seed)
    words = " ".join(
        rng.choice(["restless", "gut", "butterfly", "rash", "Moyamoya", "sleep", "apnea"])
        for _ in range(rng.randint(1, 4))
    )
    text = f"The condition known as « {words} » causes cramping."
    assert clean_answer(text) == f'The condition known as "{words}" causes cramping.'


@pytest.mark.parametrize("seed", range(20))
def test_a_bracketed_range_with_its_unit_is_a_value_and_without_one_a_citation(seed):
    from medimind_assets.data.sentence_rules import furnish

    rng = random.Random(seed)
    low = rng.randint(1, 200)
    value = f"[{low}-{low + rng.randint(1, 100)}]"
    unit = rng.choice(["mg/dL", "mmol/L", "%", "mm Hg", "bpm", "units", "mg"])
    kept = f"Normal values are {value} {unit}. Higher values need care."
    assert furnish(kept).text == kept
    cited = f"Gout is common {value}. It hurts."
    assert furnish(cited).text == "Gout is common. It hurts."


@pytest.mark.parametrize("seed", range(20))
def test_any_short_test_question_held_whole_is_that_question_and_a_part_of_it_is_not(seed):
    from medimind_assets.data.cleaning import normalize_key
    from medimind_assets.data.overlap import NearTestQuestions

    rng = random.Random(seed)
    vocabulary = "how much can i take of ibuprofen aspirin for a child adult daily is too safe".split()
    test = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(4, 7)))
    near = NearTestQuestions([normalize_key(test)])
    before = " ".join(rng.choice(["please", "tell me", "doctor"]) for _ in range(rng.randint(0, 3)))
    after = " ".join(rng.choice(["thanks", "at night", "with food"]) for _ in range(rng.randint(0, 3)))
    assert near.held_in(normalize_key(f"{before} {test} {after}"))
    assert not near.held_in(normalize_key(" ".join(test.split()[1:]) + " zebra"))


@pytest.mark.parametrize(
    ("test", "other", "same"),
    [
        ("how to loose weight", "How to lose weight?", True),
        ("how much ibuprofen is too much", "how much ibuprofin is too much", True),
        ("how much ibuprofen is too much", "how much ibuprofen is to much", True),
        ("what is type 1 diabetes", "What is type 2 diabetes?", False),  # two numbers: two questions
        ("what causes hair loss in men", "what causes hair loss in women", False),  # two words, not two spellings
        ("how to treat a burn", "how to treat a bruise", False),
    ],
)
def test_a_short_test_question_with_one_word_spelt_another_way_is_that_question(test, other, same):
    from medimind_assets.data.overlap import NearTestQuestions

    assert (NearTestQuestions([test]).match(clean_question(other)) is not None) is same

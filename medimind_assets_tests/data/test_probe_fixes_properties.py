"""This round's cleaning, isolation, language and encoding fixes over seeded random inputs of their kind, not only
the case first seen."""

import random

import pytest

from medimind_assets.data import mediqa
from medimind_assets.data.boilerplate import scrub_answer
from medimind_assets.data.cleaning import clean_answer, clean_question, truncate_at_sentence
from medimind_assets.data.overlap import NearTestQuestions
from medimind_assets.data.safety import assess
from medimind_assets_tests.data.labelled_sets import DEVELOPMENT_QUESTIONS, labelled_questions

CONTENT = [
    "Over time, people with diabetes may need both lifestyle changes and medication",
    "Gout is a form of arthritis that causes sudden pain and swelling in the joints",
    "Most children with croup get better at home within a few days",
    "A biopsy removes a small piece of tissue so that it can be checked under a microscope",
]
NOTICES = [
    "Share this infographic and help spread the word about the condition.",
    "This information is not intended to replace the advice of your doctor.",
    "Follow us on Twitter for the latest updates.",
    "All rights reserved.",
]


@pytest.mark.parametrize("seed", range(20))
def test_any_notice_glued_to_a_sentence_takes_only_itself(seed):
    rng = random.Random(seed)
    first, second = rng.sample(CONTENT, 2)
    answer = clean_answer(f"{first}. {second}.{rng.choice(NOTICES)}")
    assert scrub_answer("What is it?", answer, 20).text == f"{first}. {second}."


@pytest.mark.parametrize("seed", range(20))
def test_no_cut_ends_inside_any_range_or_after_any_abbreviation(seed):
    rng = random.Random(seed)
    low = rng.choice(["0.5", "1", "2.5", "10", "120"])
    high = rng.choice(["1.5", "4", "6", "20", "200"])
    unit = rng.choice(["mg", "mL", "units", "hours", "mmHg", "%"])
    inner = rng.choice(
        [
            f"the usual range is {low} - {high} {unit} for most adults",
            f"ask about it, e.g. {rng.choice(['the', 'a', 'Dr.'])} first choice",
            f"allopurinol vs. {rng.choice(['febuxostat', 'probenecid'])} works for most",
            f"for a child, i.e. {rng.choice(['under 12', 'a toddler'])}, less is given",
        ]
    )
    text = f"{rng.choice(CONTENT)}. In short, {inner}, and more follows here. " + "Xx" * 80
    end = text.index(", and more follows")  # the cut falls inside the second sentence
    cut, was_cut = truncate_at_sentence(text, end)
    assert was_cut and cut.endswith(".") and cut.count(".") <= 2 and "In short" not in cut, cut


def _one_edit(word: str, rng: random.Random) -> str:
    at = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["swap", "drop", "double", "change"])
    if kind == "swap":
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    if kind == "drop":
        return word[:at] + word[at + 1 :]
    if kind == "double":
        return word[:at] + word[at] + word[at:]
    letter = rng.choice([c for c in "aeiou" if c != word[at]])
    return word[:at] + letter + word[at + 1 :]


@pytest.mark.parametrize("seed", range(30))
def test_any_short_test_question_spelt_another_way_is_that_question_and_another_number_is_not(seed):
    rng = random.Random(seed)
    drug = rng.choice(["ibuprofen", "metformin", "lisinopril", "amoxicillin", "sertraline"])
    # Six words: too few word 3-grams for the 80% rule, which would take "age 4" for "age 5" in a longer question.
    test = f"how much {drug} at age {rng.randint(2, 9)}"
    near = NearTestQuestions([test])
    spelt = test.replace(drug, _one_edit(drug, rng))
    assert near.match(clean_question(spelt)) is not None, spelt
    other_number = test.replace(test.split()[-1], str(int(test.split()[-1]) + 1))
    assert near.match(clean_question(other_number)) is None, other_number


FOREIGN_SENTENCES = [
    ["me", "duele", "el", "pecho", "y", "no", "puedo", "respirar", "bien"],
    ["mon", "fils", "a", "de", "la", "fievre", "et", "il", "est", "tres", "fatigue"],
    ["ich", "habe", "starke", "Schmerzen", "und", "kann", "nicht", "schlafen"],
    ["meu", "pai", "tomou", "os", "comprimidos", "com", "uma", "bebida"],
]


@pytest.mark.parametrize("seed", range(20))
def test_any_question_in_another_language_is_never_safe(seed):
    rng = random.Random(seed)
    words = list(rng.choice(FOREIGN_SENTENCES))
    rng.shuffle(words)  # whatever it says, in whatever order: the rules cannot read it
    assert assess(" ".join(words)).level == "emergency"


def test_no_labelled_english_question_is_read_as_another_language(shared_data):
    """Every development question (2,025 written in English, many in texting or a second language's English)."""
    for _, _, text in labelled_questions(DEVELOPMENT_QUESTIONS, shared_data):
        assert not assess(text).reasons or not assess(text).reasons[0].startswith("not_english"), text


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("codec", ["latin-1", "cp1252"])
def test_any_text_saved_in_the_encoding_it_declares_reads_the_same(tmp_path, seed, codec):
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz éèàçñöüßæøåîôû" + ("€" if codec == "cp1252" else "")
    text = "".join(rng.choice(letters) for _ in range(40)).strip() or "x"
    xml = (
        f'<?xml version="1.0" encoding="{codec}"?>\n<Root><Question QID="1"><QuestionText>{text}</QuestionText>'
        '<AnswerList><Answer AID="1_A" ReferenceScore="4"><AnswerText>a</AnswerText></Answer></AnswerList>'
        "</Question></Root>\n"
    )
    path = tmp_path / "q.xml"
    path.write_bytes(xml.encode(codec))
    [question] = mediqa.parse_mediqa_file(path)
    assert question.text == " ".join(text.split())


INSTITUTES = [
    "National Institute of Diabetes and Digestive and Kidney Diseases",
    "National Heart, Lung, and Blood Institute",
    "National Cancer Institute",
    "National Institute on Minority Health and Health Disparities",
    "National Institutes of Health",
]


@pytest.mark.parametrize("seed", range(20))
def test_medlineplus_source_line_glued_to_any_list_or_sentence_goes_and_only_it(seed):
    rng = random.Random(seed)
    first, second = rng.sample(CONTENT, 2)
    items = " ".join(f"- {word}" for word in rng.sample(["Rest", "Ice", "Surgery", "Physical therapy", "Medicines"], 3))
    body = rng.choice([f"{first}. {second}.", f"{first}: {items}"])
    answer = clean_answer(f"{body} NIH: {rng.choice(INSTITUTES)}")
    assert scrub_answer("What is it?", answer, 20).text == body
    kept = f"{body} Ask NIH: researchers there study it"  # "NIH:" opening a sentence of content stays
    assert scrub_answer("What is it?", clean_answer(kept), 20).text == kept

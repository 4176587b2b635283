"""The learned page-notice model (`data/notice_model.py`) and where `furnish` lets it act: only on what closes an
answer, never on its first segment, a list item or advice to get urgent help."""

import json

import pytest

from medimind_assets.data import notice_model
from medimind_assets.data.sentence_rules import furnish

BODY = "Gout is a form of arthritis that causes sudden attacks of pain. It happens when uric acid builds up."

# Content sentences that look like notices to a model of words (a year, a number, "our", "we", "review").
CONTENT = [
    "12 patients had replies",
    "In 2019 a large study confirmed this.",
    "In 2012 the FDA approved a new drug for this condition.",
    "A 2015 review of 12 trials found no benefit.",
    "Our bodies need vitamin D for strong bones.",
    "We do not know what causes it.",
    "Most children grow out of it by age 5.",
    "The test takes about 10 minutes.",
    "Your GP can refer you to a specialist.",
    "Treatment depends on the cause.",
]


# Labelled doses, amounts, ranges and steps close answers too ("Label: number ..." looked like "Sources: 2019 ...").
MEASURED = [
    "Adults: 2 puffs every 4 to 6 hours.",
    "Children: 1 tablet every 6 hours.",
    "Dosage: 0.5 mg/kg.",
    "Vitamin D: 10 micrograms a day.",
    "Vaccine: 2 doses.",
    "Type 1 diabetes: insulin. Type 2 diabetes: diet, metformin.",
    "Store below 25 C.",
    "Normal: less than 120/80 mm Hg.\nHigh: 130/80 mm Hg or higher.",
    "Step 4: Hold your breath for 10 seconds.",
    "Stage 5: GFR below 15.",
    "Phone NHS 111 for advice.",
]


# Known: "our" with a year reads as a site's own notice ("Our site has been updated since 2019.").
KNOWN_LOSS = pytest.param(
    "Our understanding of gout has improved a lot since 2010.",
    marks=pytest.mark.xfail(reason="'our' and a year weigh as a notice", strict=True),
)


@pytest.mark.parametrize("sentence", [*CONTENT, *MEASURED, KNOWN_LOSS])
def test_a_content_sentence_closing_an_answer_stays(sentence):
    assert furnish(f"{BODY}\n{sentence}").text == f"{BODY}\n{sentence}"


@pytest.mark.parametrize(
    "notice",
    [
        "This article is for information only and does not replace a visit to your family physician.",
        "Content reproduced under licence from HealthWise Ltd. Terms and conditions apply.",
        "Share this on WhatsApp | Save for later | Report an error",  # missed before batch 5's share bars
    ],
)
def test_a_notice_closing_an_answer_goes(notice):
    assert furnish(f"{BODY}\n{notice}").text == BODY


@pytest.mark.parametrize(
    "advice",
    ["Call 9\u20131\u20131 for emergency medical care.", "If the pain spreads to your chest, call 911 right away."],
)
def test_advice_to_get_urgent_help_is_never_taken_for_a_notice(advice):
    assert furnish(f"{BODY}\n{advice}").text.endswith(advice)


def test_the_model_acts_on_the_close_of_an_answer_only():
    """A notice-like line with content after it stays: pages append their notices."""
    middle = "This page explains gout."
    text = f"{BODY}\n{middle}\nTreatment depends on the cause."
    assert notice_model.is_page_notice(middle)
    assert furnish(text).text == text


def test_the_last_items_of_a_list_and_the_first_segment_stay():
    listed = f"{BODY} Symptoms include: - Fever - Chills - Feeling very tired."
    assert furnish(listed).text == listed
    alone = "This page explains gout."
    assert notice_model.is_page_notice(alone)
    assert furnish(alone).text == alone


def test_the_model_was_trained_on_development_lines_only():
    trained_on = json.loads(notice_model.MODEL_PATH.read_text(encoding="utf-8"))["trained_on"]
    assert {"boilerplate_lines_batch5.tsv", "boilerplate_lines_batch6.tsv"} <= set(trained_on)
    assert not [name for name in trained_on if "heldout" in name]


def test_the_score_is_a_probability_that_does_not_depend_on_word_order_of_features():
    text = "Follow us on Instagram for daily health tips!"
    score = notice_model.notice_score(text)
    assert 0.0 < score < 1.0
    assert notice_model.features(text) == notice_model.features(text)
    assert score == notice_model.notice_score(text)


def test_a_notice_closing_a_one_line_answer_goes_though_the_answer_holds_numbers():
    """A number with a unit in the answer (content) does not shield the notice after it."""
    answer = (
        "Diabetes affects many people. It affects about 9.4 percent of the population. "
        "Centers for Disease Control and Prevention website. Updated July, 18 2017."
    )
    assert not furnish(answer).text.endswith("Updated July, 18 2017.")
    assert "9.4 percent" in furnish(answer).text

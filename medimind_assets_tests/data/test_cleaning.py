import pytest

from medimind_assets.data.cleaning import (
    clean_answer,
    clean_question,
    compact_key,
    junk_reason,
    normalize_key,
    normalize_whitespace,
    truncate_at_sentence,
)


def test_invisible_characters_and_unicode_spaces_are_normalised():
    text = "Take\u00a0care\u200b of\u2009your¶ heart.\ufeff"
    assert normalize_whitespace(text) == "Take care of your heart."


def test_medquad_indentation_collapses_but_paragraphs_survive():
    text = "  First paragraph.\n                \n\n\n      Second   paragraph.\n  - item  "
    assert normalize_whitespace(text) == "First paragraph.\n\nSecond paragraph.\n- item"


def test_mediqa_title_prefix_is_stripped():
    assert clean_answer("Noonan syndrome (Symptoms): Noonan syndrome is genetic.", strip_prefix=True) == (
        "Noonan syndrome is genetic."
    )
    assert clean_answer("What is Flu?: The flu is an infection.", strip_prefix=True) == "The flu is an infection."
    title = "Methadone (IMPORTANT WARNING:): Methadone may cause slowed breathing."  # a colon inside the title
    assert clean_answer(title, strip_prefix=True) == "Methadone may cause slowed breathing."
    long = f"Obesity medicines ({'How do doctors use medicines to treat overweight and obesity in adults? ' * 2}): Doctors may."
    assert clean_answer(long, strip_prefix=True) == "Doctors may."
    # Without the flag (MedQuAD), a colon in the first sentence stays.
    assert clean_answer("Symptoms include: fever.") == "Symptoms include: fever."


def test_navigation_is_removed_even_when_unterminated():
    text = "Part one. « What causes it? How is it diagnosed? » Part two. « What are the treatments?\u200b\u200b"
    assert clean_answer(text) == "Part one. Part two."
    link = "Symptoms start late in life. How is a change in a gene related to FXTAS? » People with FXTAS have it."
    assert clean_answer(link) == "Symptoms start late in life. People with FXTAS have it."


def test_key_points_header_is_removed():
    assert clean_answer("Key Points\n    - Cancer forms in cells.") == "- Cancer forms in cells."


def test_long_answers_are_cut_at_a_sentence_end():
    text = "First sentence. Second sentence here. " + "Xx" * 50
    cut, was_cut = truncate_at_sentence(text, 60)
    assert was_cut and cut == "First sentence. Second sentence here."
    assert truncate_at_sentence("short.", 60) == ("short.", False)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        # A range is no list item: never "The usual dose is 0.6".
        ("Gout hurts. The usual dose is 0.6 - 1.2 mg at the first sign of a flare, then less. ", "Gout hurts."),
        # Abbreviations end no sentence: never "Ask about allopurinol, e.g." nor "... vs.".
        (
            "Gout hurts. Ask your doctor, e.g. Dr. Smith, about allopurinol vs. febuxostat, i.e. the drugs. ",
            "Gout hurts.",
        ),
        # A dash inside a sentence starts no item: never "Two types can be prevented".
        ("Gout hurts. Two types can be prevented - rotavirus and travelers diarrhea - with care. ", "Gout hurts."),
    ],
)
def test_a_cut_never_ends_inside_a_range_an_abbreviation_or_a_dashed_clause(text, kept):
    cut, was_cut = truncate_at_sentence(text + "Xx" * 60, len(text) - 5)  # inside the second sentence's end
    assert was_cut and cut == kept


def test_medquad_question_template_artefacts_are_repaired():
    assert clean_question("What is (are) Acromegaly ?") == "What is Acromegaly?"
    assert clean_question("Who is at risk for Parasites - Taeniasis? ?") == "Who is at risk for Parasites - Taeniasis?"
    assert clean_question("What causes Causes of Diabetes ?") == "What causes Diabetes?"
    assert clean_question("  HOW DO I\n treat   a burn  ") == "HOW DO I treat a burn"


def test_normalize_key_ignores_case_punctuation_and_spacing():
    assert normalize_key("What is  FLU?!") == normalize_key("what is flu") == "what is flu"


def test_junk_answers_are_named():
    assert junk_reason("What is X?", "", 20) == "empty_answer"
    assert junk_reason("What is X?", "Topics", 20) == "junk_answer"
    assert junk_reason("What is the flu exactly?", "what is the flu, exactly", 5) == "answer_equals_question"
    assert junk_reason("What is X?", "Too short.", 20) == "answer_too_short"
    assert junk_reason("What is X?", "A perfectly good answer about X.", 20) is None


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("Are x-rays safe during pregnancy?", "Are xrays safe during pregnancy?", True),
        ("Do e-cigs cause cancer?", "Do ecigs cause cancer?", True),
        ("What causes hair loss?", "What causes hairloss?", True),
        ("What is Hirschsprung's disease?", "What is Hirschsprung disease?", True),
        ("What is Hirschsprungs disease?", "What is Hirschsprung disease?", True),
        ("Does wearing bras cause breast cancer?", "Does wearing brass cause breast cancer?", False),
        ("Is 1.5 mg of warfarin safe?", "Is 15 mg of warfarin safe?", False),
        ("What are the symptoms of CFS?", "What are the symptoms of CF?", False),  # two acronyms, not a plural
        ("What is AIDS?", "what is aids", True),
    ],
)
def test_one_question_whatever_its_spaces_possessives_and_plurals(one, other, same):
    assert (compact_key(one) == compact_key(other)) is same


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        # French quotation marks hold words; only runs of section questions are navigation.
        (
            "The condition known as « restless gut » causes cramping.",
            'The condition known as "restless gut" causes cramping.',
        ),
        ("Doctors call it a « butterfly rash. It fades.", "Doctors call it a butterfly rash. It fades."),
        ("Text here. « What causes it? What are common symptoms? » More text.", "Text here. More text."),
        # A power after a number stays a power: "10<sup>9</sup>/L" is not "109/L".
        ("Platelets are 150 to 400 x 10&lt;sup&gt;9&lt;/sup&gt;/L.", "Platelets are 150 to 400 x 10^9/L."),
        # Who a dose is for is no page title.
        (
            "Adults and children 12 years and over: Take 2 tablets every 4 to 6 hours.",
            "Adults and children 12 years and over: Take 2 tablets every 4 to 6 hours.",
        ),
        ("Asthma - children (Treatment): Use a spacer.", "Use a spacer."),
    ],
)
def test_quotes_powers_and_dose_groups_survive_cleaning(raw, clean):
    assert clean_answer(raw, strip_prefix=True) == clean


@pytest.mark.parametrize("group", ["Adults", "Children", "Pregnant women", "Teens"])
def test_a_dose_group_named_alone_is_no_page_title(group):
    answer = f"{group}: Take 2 tablets every 4 to 6 hours."
    assert clean_answer(answer, strip_prefix=True) == answer


def test_an_html_list_keeps_its_items_as_items():
    """The list's last short item is an item, not a heading left at the end."""
    html = "<p>Symptoms of meningitis include:</p><ul><li>Headache</li><li>Stiff neck</li><li>Seizures</li></ul>"
    assert clean_answer(html) == "Symptoms of meningitis include:\n\n- Headache\n- Stiff neck\n- Seizures"


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("if a<b and b>c, stop", "if a<b and b>c, stop"),  # a comparison, not a <b> tag with bare words
        ('<p class="note">Rest.</p>', "Rest."),
        ('<a href="/x" download>the leaflet</a> explains it', "the leaflet explains it"),
    ],
)
def test_only_markup_is_taken_for_a_tag(text, cleaned):
    assert clean_answer(text) == cleaned

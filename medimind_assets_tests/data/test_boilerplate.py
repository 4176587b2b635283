"""The boilerplate rules on small texts of each family (our own wording, in the upstream shapes)."""

import pytest

from medimind_assets.data.boilerplate import is_heading, repair_question, scrub_answer
from medimind_assets.data.cleaning import truncate_at_sentence


def scrub(answer, question="What is Sample syndrome?"):
    return scrub_answer(question, answer, min_chars=20)


def test_a_restated_question_heading_is_removed_and_the_answer_kept():
    out = scrub(
        "What are the signs and symptoms of Sample syndrome? People with it have short fingers.",
        "What are the symptoms of Sample syndrome?",
    )
    assert out.text == "People with it have short fingers." and out.repairs == ["restated_question"]


def test_stacked_and_generic_headings_are_removed():
    out = scrub("How does one get it? What causes sample syndrome? A change in one gene causes it.")
    assert out.text == "A change in one gene causes it."
    assert is_heading("Is genetic testing available for sample syndrome?", "How to diagnose Sample syndrome?")


def test_a_rhetorical_opening_that_speaks_to_the_reader_stays():
    text = "Do you wake up tired every day? Regular sleep times help most people sleep better."
    assert scrub(text, "What is Sleep Habits?").text == text


def test_an_answer_that_is_only_a_question_is_rejected():
    assert scrub("How might Sample syndrome be treated?").rejected == "answer_only_question"


def test_the_missing_table_is_cut_and_the_prose_before_it_kept():
    text = (
        "People with Sample syndrome are short. The Human Phenotype Ontology provides the following list of signs "
        "and symptoms for Sample syndrome. If the information is available, the table below includes how often "
        "the symptom is seen. Signs and Symptoms Approximate number of patients (when available) Short stature 90%"
    )
    out = scrub(text)
    assert out.text == "People with Sample syndrome are short." and out.repairs == ["missing_table"]
    only_table = text.split(". ", 1)[1]
    assert scrub(only_table).rejected == "missing_table"


def test_a_list_of_links_is_rejected_but_a_list_with_sentences_is_not():
    links = (
        "These resources address the diagnosis or management of X: - Gene Review: Gene Review: X - Example "
        "Hospital: How is X Diagnosed? These resources from MedlinePlus offer information about the diagnosis and "
        "management of various health conditions: - Diagnostic Tests - Drug Therapy"
    )
    assert scrub(links).rejected == "link_list"
    prose = "Treatment options include: - Physical therapy, which keeps the joints moving and is started early."
    assert scrub(prose).rejected is None


def test_navigation_click_here_and_summary_prefix_are_removed():
    out = scrub("Summary : Hand washing stops germs. Click here for the brochure.\nMore on: Hand Washing\nPodcasts")
    assert out.text == "Hand washing stops germs."
    assert out.repairs == ["navigation", "summary_prefix", "more_information"]
    assert scrub("Frequently Asked Queestions (FAQs)").rejected == "navigation_only"


def test_contact_details_alone_are_rejected():
    assert scrub("Help Line Phone: 555-010-0199 Email: help@example.org").rejected == "contact_details_only"
    assert scrub("Call 555-010-0199 for an appointment. The clinic treats adults and children.").rejected is None


@pytest.mark.parametrize(
    ("question", "repaired", "repairs"),
    [
        (
            "Do you have information about Hand Washing",
            "What should I know about Hand Washing?",
            ["information_request"],
        ),
        ("what is essential tremor?", "What is essential tremor?", ["capitalised"]),
        ("What is Gout?", "What is Gout?", []),
        ("What causes What I need to know about Gas?", "What causes Gas?", ["document_title"]),
        (
            "What is Your Guide to Diabetes: Type 1 and Type 2?",
            "What is Diabetes: Type 1 and Type 2?",
            ["document_title"],
        ),
        ("What I need to know about gout?", "What I need to know about gout?", []),
        ("Tell me What I need to know about my surgery", "Tell me What I need to know about my surgery", []),
    ],
)
def test_questions_are_repaired(question, repaired, repairs):
    assert repair_question(question) == (repaired, repairs)


def test_a_long_answer_is_cut_at_the_end_of_a_list_item_never_inside_one():
    text = "Features include - " + " - ".join(f"Long item number {i} with several words" for i in range(200))
    cut, was_cut = truncate_at_sentence(text, 400)
    assert was_cut and len(cut) <= 400
    assert cut.endswith("with several words")  # a whole item, not "- Long"
    assert text.startswith(cut) and text[len(cut) :].startswith(" - ")


def test_a_cut_never_leaves_an_item_s_label_without_its_text():
    text = (
        "Medicines include: - Alpha blockers. These reduce nerve impulses. - Alpha-beta blockers. In addition, they "
        "slow the heartbeat and reduce the blood pumped through the vessels."
    )
    assert truncate_at_sentence(text, 110) == (
        "Medicines include: - Alpha blockers. These reduce nerve impulses.",
        True,
    )
    prose = "One sentence here. Two sentences here. A third one that goes past the limit."
    assert truncate_at_sentence(prose, 45) == ("One sentence here. Two sentences here.", True)
    paragraphs = "Gout is a kind of arthritis.\nIt can cause sudden pain. The pain is often in the big toe for days."
    assert truncate_at_sentence(paragraphs, 70) == ("Gout is a kind of arthritis.\nIt can cause sudden pain.", True)
    headed = "Cirrhosis has complications.\n\nEdema. Fluid builds up.\n\nLiver cancer. Cirrhosis raises the risk a lot."
    assert truncate_at_sentence(headed, len(headed) - 10) == (
        "Cirrhosis has complications.\n\nEdema. Fluid builds up.",
        True,
    )
    only_a_label = "Symptoms include:\n- Fever. Often high and lasting several days in a row."
    assert truncate_at_sentence(only_a_label, 60) == ("Symptoms include:\n- Fever.", True)  # not mid-sentence


def test_an_introduction_is_never_left_without_its_list():
    text = "First sentence here. Symptoms include: - " + "x" * 500
    assert truncate_at_sentence(text, 300) == ("First sentence here.", True)


@pytest.mark.parametrize(
    ("question", "stripped"),
    [("How to diagnose Danon disease?", False), ("Is genetic testing available for Danon disease?", True)],
)
def test_a_yes_or_no_keeps_its_question_unless_the_row_asks_it(question, stripped):
    answer = "Is genetic testing available for Danon disease? Yes. GeneTests lists laboratories that test for it."
    text = scrub_answer(question, answer, min_chars=20).text
    assert text == (answer.split("? ", 1)[1] if stripped else answer)


def test_a_warning_every_answer_of_a_collection_ends_with_is_no_template():
    from medimind_assets.data.recurring import RecurringText

    warning = "Get emergency medical help if you have signs of an allergic reaction: hives, difficult breathing"
    footer = "Page last updated on 1 May 2024"
    recurring = RecurringText()
    for i in range(8):
        recurring.observe("13_Drugs_QA", f"Drug {i} lowers blood pressure. Take it daily.\n{warning}\n{footer}", "x")
    template = recurring.template("13_Drugs_QA")
    assert footer.casefold() in template and warning.casefold() not in template


def test_the_missing_table_cut_keeps_a_list_written_without_full_stops():
    answer = (
        "Anemia is common. Other signs may include: Painful fingers and toes Abnormal behavior Heart failure Shock "
        "The Human Phenotype Ontology provides the following list of signs and symptoms for X. If the information is "
        "available, the table below includes how often the symptom is seen."
    )
    kept = scrub_answer("What are the symptoms of X?", answer, min_chars=20).text
    assert (
        kept
        == "Anemia is common. Other signs may include: Painful fingers and toes Abnormal behavior Heart failure Shock"
    )


@pytest.mark.parametrize(
    "content",
    [
        # A device's controls are steps to keep, not a page's media controls.
        "- Click the dose selector to 2 units and do a safety test.",
        "- Insert the needle into the skin and press the button until the dose counter shows 0.",
        "Click the cap back onto the pen after each injection.",
        # A procedure's video and a child's screen time are medicine, not a player's instructions.
        "Video urodynamic images can show the size and shape of the urinary tract and the flow of urine.",
        "Children younger than 18 months should avoid all screen time, except for video-chatting with family.",
    ],
)
def test_device_steps_and_clinical_sentences_with_media_words_stay(content):
    answer = f"Here is what to know.\n{content}\nStore the pen at room temperature for up to 28 days."
    assert content in scrub_answer("How do I use it?", answer, 20).text


@pytest.mark.parametrize(
    "notice",
    [
        "Click here to watch the video about gout.",
        "Press the play button to start the video.",
        "More information about testing for thyroid problems is provided in the NIDDK health topic, Thyroid Tests.",
        "These have been retrieved from NCI's listing of clinical trials.",
        "For more specific results, refine the search by using other search features, such as the location.",
        "This graphic notice means that you are leaving an HHS Web site.",
        "The NIDDK would like to thank: Jane Doe, M.D., University of Somewhere.",
        "This information is not copyrighted.",
        "Share this infographic and help spread the word about flu vaccination.",
        "Images and logos on this website which are trademarked/copyrighted are not in the public domain.",
        "This information is not intended to\nreplace the advice of your doctor.",  # wrapped onto two lines
        "The NHS website doesn't endorse any of the services listed here.",
    ],
)
def test_page_furniture_and_pointers_go(notice):
    from medimind_assets.data.cleaning import clean_answer

    answer = clean_answer(f"Gout is a form of arthritis that causes sudden joint pain.\n{notice}")
    assert (
        scrub_answer("What is gout?", answer, 20).text == "Gout is a form of arthritis that causes sudden joint pain."
    )


def test_an_item_that_says_of_another_thing_what_the_one_before_said_is_kept():
    """A list of test results words each item alike: the second says something new, it is no repeat."""
    answer = (
        "Results of the tests:\n"
        "- Negative TST: This means that the person's body did not react to the test, and that latent TB infection or "
        "TB disease is not likely.\n"
        "- Negative IGRA: This means that the person's blood did not react to the test and that latent TB infection "
        "or TB disease is not likely."
    )
    assert "Negative IGRA" in scrub_answer("What do the results mean?", answer, 20).text


def test_a_notice_glued_to_a_sentence_by_the_source_takes_only_itself():
    """ "... and medication.Share this infographic ...": the sentences are told apart before the notice goes."""
    from medimind_assets.data.cleaning import clean_answer

    answer = clean_answer(
        "Over time, people with diabetes may need both lifestyle changes and medication.Share this infographic and "
        "help spread the word about diabetes."
    )
    kept = scrub_answer("How is diabetes treated?", answer, 20).text
    assert kept == "Over time, people with diabetes may need both lifestyle changes and medication."

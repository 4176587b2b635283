"""The sentence families (`data/sentence_rules.py`) and the segments they work on: each family on our own small
texts, then as a property: whatever answer a family's sentence is put into, the sentence goes and every other
sentence of the answer stays exactly as it was."""

import random

import pytest

from medimind_assets.data.segments import drop_segments, split_segments
from medimind_assets.data.sentence_rules import drop_trailing_headings, furnish, glued_attribution

CONTENT = [
    "Regular activity keeps muscles strong and joints flexible at any age.",
    "Walking, swimming and gardening all count toward the weekly goal.",
    "The kidneys filter waste from the blood and make urine.",
    "Most people with the condition recover fully within two weeks.",
    "Doctors usually check blood pressure at every visit.",
    "A diet rich in fibre helps the bowel work regularly.",
    "The disease is caused by a change in a single gene.",
    "Symptoms include a dry cough, a sore throat and a mild fever.",
]
# One template per family, with slots that vary: the family is a kind of sentence, not one string.
FAMILIES = {
    "credits": ["Reviewed by {name}, MD, and the {org} Editorial team.", "Review provided by {org} Network."],
    "media_instructions": [
        "To enlarge the videos on this page, click the brackets in the lower right-hand corner of the video screen.",
        "Watch the animation below to see how the {thing} works.",
        "To pause the video, press the Escape (Esc) button on your keyboard.",
    ],
    "more_information": [
        "For more information about {thing}, see the {org} fact sheet.",
        "To learn more about {thing}, visit the {org} website.",
        "Information about {thing} is available from the {org} website.",
        "Please click on the link to access this resource.",
        "Read more about {thing} in our guide.",
    ],
    "contact_details": [
        "You can reach the {org} Help Line at 1-800-555-{digits}.",
        "Write to help@{domain}.org with your questions.",
        "Call ({area}) 555-{digits} or TTY (800) 555-{digits}.",
    ],
    "language_switch": ["Español", "This page is also available in Spanish.", "Other languages"],
}
NAMES = ["Ada Lovelace", "Sam Okafor", "Lee Chen", "Maria Rossi"]
ORGS = ["Example Health", "Sample Institute", "Acme Clinic", "North Agency"]
THINGS = ["heart valve", "kidney", "eye exam", "hip joint"]


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        name=rng.choice(NAMES),
        org=rng.choice(ORGS),
        thing=rng.choice(THINGS),
        digits=f"{rng.randrange(10000):04d}",
        area=rng.randrange(200, 999),
        domain=rng.choice(["example", "sample", "acme"]),
    )


def test_segments_cover_the_text_and_know_sentences_items_and_lines():
    text = "- Lung cancer is common. - It spreads.\n\nSee Dr. Smith e.g. today. The A.D.A.M. Editorial team.\nNIH: X"
    segments = split_segments(text)
    assert [s.text for s in segments] == [
        "Lung cancer is common.",
        "It spreads.",
        "See Dr. Smith e.g. today.",
        "The A.D.A.M. Editorial team.",
        "NIH: X",
    ]
    assert all(text[s.start : s.end] == s.text for s in segments)
    assert [s.item for s in segments] == [True, True, False, False, False]
    assert (
        drop_segments(text, [segments[1], segments[3]])
        == "- Lung cancer is common.\n\nSee Dr. Smith e.g. today.\nNIH: X"
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_sentence_goes_wherever_it_is_and_the_rest_stays(family):
    rng = random.Random(family)
    for _ in range(40):
        kept = rng.sample(CONTENT, rng.randint(2, 5))
        noise = _fill(rng.choice(FAMILIES[family]), rng)
        at = rng.randint(1, len(kept))  # never first: an answer that opens with boilerplate is a heading case
        lines = family == "language_switch" or rng.random() < 0.5  # a language switch is a line of its own
        pieces = [*kept[:at], noise, *kept[at:]]
        out = furnish(("\n" if lines else " ").join(pieces))
        assert family in out.families, (family, noise)
        assert out.text.split() == " ".join(kept).split(), (noise, out.text)


def test_the_agency_closing_an_answer_goes_on_its_own_line_or_glued_to_the_last_item():
    for agency in ["NIH: National Institute on Aging", "Centers for Disease Control and Prevention"]:
        assert furnish(f"{CONTENT[0]} {CONTENT[1]}\n{agency}").text == f"{CONTENT[0]} {CONTENT[1]}"
        glued = f"Tips: - Walk every day - Get prompt care for infected wounds {agency}"
        assert furnish(glued).text == "Tips: - Walk every day - Get prompt care for infected wounds"
    # A name that is part of the sentence stays.
    assert glued_attribution("The study was funded by the National Institutes of Health") is None
    assert furnish("Research on the disease is funded by the National Institutes of Health").families == []


def test_repeated_key_points_keep_their_first_occurrence():
    text = (
        "- Lung cancer is a disease in which cancer cells form in the lung. - Smoking is the main risk.\n\n"
        "Lung cancer is a disease in which cancer cells form in the lung.\nThe lungs are a pair of organs.\n\n"
        "Smoking is the main risk.\nQuitting at any age lowers it."
    )
    out = furnish(text)
    assert out.families == ["repeated_text"]
    assert out.text.count("Lung cancer is a disease") == 1 and out.text.count("Smoking is the main risk") == 1
    assert "The lungs are a pair of organs." in out.text and "Quitting at any age lowers it." in out.text


def test_list_items_repeated_as_run_on_text_go():
    items = ["sudden numbness of the face or arm", "sudden confusion or trouble speaking", "sudden severe headache"]
    text = "Warning signs: - " + " - ".join(items) + ". " + " ".join(items) + ". Call 911 at once."
    out = furnish(text)
    assert "repeated_text" in out.families
    assert out.text == "Warning signs: - " + " - ".join(items) + ". Call 911 at once."


def test_research_that_wants_to_learn_more_is_no_pointer():
    text = f"{CONTENT[6]} Researchers are working to learn more about the other genes involved."
    assert furnish(text).text == text


@pytest.mark.parametrize(
    ("text", "furnished"),
    [
        (
            "About 7% of people develop appendicitis at some point.1 It most often occurs in the teens.2",
            "About 7% of people develop appendicitis at some point. It most often occurs in the teens.",
        ),
        ("It affects 3 of 100,000 children.2,3 Most recover.", "It affects 3 of 100,000 children. Most recover."),
        (
            "Most are cholesterol stones.1\n- Pigment stones are dark.",
            "Most are cholesterol stones.\n- Pigment stones are dark.",
        ),
        ("Keep it above 11.5 g/dL. Patients vary.", None),
        ("Type 1.5 diabetes is rare. It is also called LADA.", None),
        ("See Fig.1 Overview of the kidney.", None),
        ("The BA.2 Omicron subvariant spreads faster.", None),
    ],
)
def test_a_reference_number_flattened_onto_a_sentence_goes_a_decimal_stays(text, furnished):
    assert furnish(text).text == (furnished or text)


def test_a_starred_pointer_to_a_guide_the_corpus_lacks_goes():
    text = f"{CONTENT[0]}\n\n*See the Pronunciation Guide for tips on how to say the words in bold type."
    assert furnish(text).text == CONTENT[0]
    warning = f"{CONTENT[0]}\n\n*See warnings: do not give aspirin to children under 16."
    assert furnish(warning).text == warning  # advice, whatever its opening


def test_urgent_advice_with_a_phone_number_is_content():
    text = f"{CONTENT[0]} If a child swallows one, call Poison Control at 1-800-222-1222 right away."
    assert furnish(text).text == text


def test_citation_markers_and_a_heading_left_at_the_end_go():
    out = furnish(f"{CONTENT[2]}[1] [2] {CONTENT[3]}\nTreatment Options for Adults")
    assert out.text == f"{CONTENT[2]} {CONTENT[3]}"
    assert out.families == ["citation_markers", "trailing_heading"]
    assert drop_trailing_headings(f"{CONTENT[4]}\nHospital treatments may include the following:") == CONTENT[4]
    assert (
        drop_trailing_headings(f"{CONTENT[4]}\n- Surgery - Radiation therapy")
        == f"{CONTENT[4]}\n- Surgery - Radiation therapy"
    )


BODY = "Gout is a form of arthritis that causes sudden attacks of pain in a joint."


@pytest.mark.parametrize(
    "pointer",
    [
        "See the Treatment Options section that follows for links to current clinical trials.",
        "Visit the Genetic Resources section to learn how to find a genetics professional.",
        "(See below about wearing insecticide-treated clothing.)",
    ],
)
def test_a_pointer_after_a_full_stop_or_a_question_goes(pointer):
    for joined in (f"{BODY} {pointer}", f"Is it common? {pointer}"):
        assert pointer not in furnish(joined).text


@pytest.mark.parametrize(
    "advice",
    [
        "See your doctor right away if you think you have been in contact with the hepatitis A virus.",
        "See an eye care professional right away if you have a sudden change in vision.",
        "Go to the emergency room or call 911 if a sudden change in mental status occurs.",
        "Go to A&E or call 999 if you have severe joint pain with a high temperature.",
    ],
)
def test_advice_to_see_someone_is_no_pointer(advice):
    assert furnish(f"{BODY} {advice}").text == f"{BODY} {advice}"


def test_a_short_question_leading_into_a_notice_goes_with_it_and_a_reference_in_prose_stays():
    assert furnish(f"{BODY}\nWas this page helpful? Yes / No").text == BODY
    assert furnish(f"{BODY}\nWant to learn more? Visit medlineplus.gov/gout.html.").text == BODY
    prose = (
        f"{BODY} In the article by Dauphin C. et al. (Arch Mal Coeur Vaiss. 2007;100(5):439-447) the authors describe "
        "that all five adult patients treated with immunoglobulins improved within a week of the first infusion."
    )
    assert furnish(prose).text == prose
    assert "2015;11(11)" not in furnish(f"{BODY} Nat Rev Rheumatol. 2015;11(11):649-662.").text


@pytest.mark.parametrize("verb", ["See", "Visit", "Go to", "Please see", "Check with"])
@pytest.mark.parametrize(
    "who",
    [
        "your doctor",
        "a health care professional",
        "an eye care specialist",
        "the emergency room",
        "your GP",
        "a pharmacist",
        "the nearest A&E",
        "your midwife",
        "an urgent care clinic",
        "a dentist",
    ],
)
def test_advice_to_see_anyone_who_treats_stays_however_it_is_put(verb, who):
    advice = f"{verb} {who} right away if the pain gets worse or you develop a fever."
    assert furnish(f"{BODY} {advice}").text == f"{BODY} {advice}"


@pytest.mark.parametrize(
    "text",
    [
        # Crisis and poison lines are what an emergency answer must keep, phone number and all.
        "Swallowed batteries burn. The Poison Help line number is 1-800-222-1222.",
        "Help is there. The 988 Suicide and Crisis Lifeline is available 24 hours a day at 988 or 1-800-273-8255.",
        "If a child swallows a battery, keep the package and contact your local Poison Control Center",
        "Anaphylaxis can kill within minutes.\nUse Epinephrine And Call 911 Right Away",
        "Rehab helps. Options include:\n- Exercise training\n- A Cardiac Rehabilitation Program",
        # "click" as a sound, a procedure's video, a port reached with a needle: content.
        "McLeod syndrome causes chorea. Some people make grunting and clicking noises.",
        "During the test a small camera on the tube sends a video image of the lining to a monitor. It is safe.",
        "The port can be accessed with a special needle. It stays under the skin.",
        # A range of values with its unit is no citation; a vitamin's name is no reference number.
        "Normal fasting glucose is [70-99] mg/dL. Values above are high.",
        "It needs vitamin B.12 Patients should eat meat.",
    ],
)
def test_content_a_probe_found_removed_is_kept(text):
    assert furnish(text).text == text


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Gout is painful. Click here to learn more.", "Gout is painful."),
        (
            "Milk is hard to digest.\n\nMore information is provided in the NIDDK health topic, Lactose Intolerance.",
            "Milk is hard to digest.",
        ),
        ("Gout is common [1,2]. It hurts [3].", "Gout is common. It hurts."),
    ],
)
def test_pointers_and_citations_still_go(text, kept):
    assert furnish(text).text == kept

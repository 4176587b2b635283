import pytest

from medimind_assets.data.safety import DosageRule, advises_urgent_care, classify_safety


@pytest.mark.parametrize(
    "question",
    [
        "I have crushing chest pain and my left arm is numb",
        "my dad's face is drooping and he has slurred speech, is it a stroke?",
        "I keep having suicidal thoughts",
        "my son took too many pills of tylenol, overdose?",
        "how do I stop severe bleeding from a cut",
        "my mother has trouble breathing at night",
        "What are the warning signs of a heart attack?",
    ],
)
def test_emergencies(question):
    assert classify_safety(question) == "emergency"


@pytest.mark.parametrize(
    "question",
    [
        "What is the right dose of ibuprofen?",
        "can I take 500mg of amoxicillin three times a day",
        "Is it safe to take paracetamol while pregnant?",
        "what cough medicine can I give my toddler",
        "Does warfarin interact with aspirin?",
    ],
)
def test_caution(question):
    assert classify_safety(question) == "caution"


def test_ordinary_questions_are_safe():
    assert classify_safety("What is acromegaly?") == "safe"
    assert classify_safety("How is glaucoma diagnosed?", "An eye doctor measures eye pressure.") == "safe"


def test_dosage_instructions_in_the_answer_follow_the_rule():
    answer = "Adults should take 400 mg every 6 hours."
    assert classify_safety("How is a fever treated?", answer) == "caution"
    assert classify_safety("How is a fever treated?", answer, DosageRule.OFF) == "safe"


def test_urgent_care_advice():
    assert advises_urgent_care("If you have these symptoms, call 911 right away.")
    assert advises_urgent_care("Go to the nearest emergency room.")
    assert advises_urgent_care("Seek immediate medical attention.")
    assert not advises_urgent_care("Rest and drink fluids; see your doctor if it persists.")

"""Questions as people type them, made comparable: lower case, no apostrophes or punctuation, and misspelled key
words put right ("siezure", "ibuprofin", "hart atack", "keto acidosis"), so that the safety patterns
(`data/safety.py`) are written once, for the correct words. Only the words the patterns depend on (`KEY_WORDS`) are
corrected to, never the whole language, and never from a common word that happens to be close (`_REAL_WORDS`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from medimind_assets.data.medicines import MEDICINE_WORDS

# "ectopic" alone is an ectopic pregnancy ("signs of an ectopic"), not an ectopic kidney, beat or calcification.
ECTOPIC_PREGNANCY = (
    r"ectopic(?! (?:kidneys?|beats?|heart ?beats?|calcification|ureter\w*|atrial|ventricular|rhythm|teeth|tooth|"
    r"eruption|thyroid|pancreas|spleen|testis|testicles?|cushing\w*|acth|hormone|adrenocorticotropic|lens|lentis|"
    r"ossification|bone|anus|gastric|adrenal|foci|focus|tachycardia|pacemaker|pituitary|\w+omas?)\b)"
)

# The words the patterns are written with, where a misspelling would lose a question, and the medicines'
# names: misspelled medicines ("rosuvastin") are caution questions too.
KEY_WORDS = MEDICINE_WORDS | frozenset(
    """
    heart attack attacks stroke strokes cardiac arrest anaphylaxis anaphylactic allergic allergy reaction seizure
    seizures seizing convulsing convulsions epileptic unconscious unresponsive responsive collapsed collapse fainted
    fainting passed breathe breathing breathless choking choked suffocating overdose overdosed overdosing poisoning
    poisoned poison swallowed bleeding bleed hemorrhage haemorrhage vomiting vomited throwing coughing blood suicide
    suicidal myself emergency ambulance hospital paramedics sepsis septic meningitis meningococcal embolism
    pulmonary aortic dissection aneurysm ruptured ketoacidosis diabetic hypoglycemia hypoglycaemia hypothermia
    hyperthermia heatstroke drowning drowned drowsy confused confusion slurred slurring drooping droopy numbness
    numb paralyzed paralysed weakness tingling unconsciousness ectopic preeclampsia eclampsia torsion testicle
    testicular appendicitis appendix epiglottitis pneumothorax asthma inhaler epipen carbon monoxide symptoms
    symptom signs warning treatment treatments pregnant pregnancy trimester breastfeeding breastfeed nursing
    conceive fertility advil aleve antibiotic antihistamine antidepressant medication medicine prescription
    prescribed dosage milligrams interaction interactions interact side effects effect vitamin supplement xanax
    heroin cocaine methamphetamine alcohol toddler newborn infant children daughter grandson granddaughter nephew
    pediatric paediatric
    """.split()
)
# Common words one edit from a key word: never "corrected" into it.
_REAL_WORDS = frozenset(
    """
    strike strikes stoke stoked attach attached attacks breath breaths breathy bleed blend blond blonde blood bloody
    choke chokes poise prison poisson pressed passes paused caused cause drowsy drowse allergy allergen effect affect
    affects effects nurse nurses nursed conceived concise symptom numb number sighs sings singe reaction reactions
    treatment treatments medicine medicines medication medications infant infants newborns children ectopics
    ability alive aseptic blurred blurring bloom breeding conscious consciousness cooked cooking creating described
    description descriptions direction drooling dropping education flood heard laughter peptic rarest reflex
    reticular retinal singular stains stating tainted verbal warming valgum coumarin septin ectopia epiglottis inhale
    inhaled hypoglycemic relieves matrin emedicine ambient antivirus aspiring asteroids believers blending breed brood
    browning concert concerts creative creator crowned dedication earning emergence hears hearth hearty herein heroic
    integration iteration iterations lyric lyrical lyrics mediation meditation mourning painted painting parsed
    sizing skeptic solver spurred stations tables thinkers
    """.split()
)
# Misspellings too far (or too short) for the edit rule that people type all the same.
_VARIANTS = {
    **dict.fromkeys(["hart", "harte"], "heart"),
    **dict.fromkeys(["atack", "attak", "atak"], "attack"),
    "breth": "breath",
    **dict.fromkeys(["paine", "pian"], "pain"),
    "brethe": "breathe",
    "breathin": "breathing",
    "cnt": "cant",
    **dict.fromkeys(["pls", "plz"], "please"),
    "u": "you",
    "ur": "your",
    "yr": "year",
    "yrs": "years",
    "yo": "year old",
    "mo": "month",
    "mos": "months",
    "wk": "week",
    "wks": "weeks",
    "bc": "because",
    "b4": "before",
    "2day": "today",
    **dict.fromkeys(["2nite", "tonite"], "tonight"),
    **dict.fromkeys(["od", "ods"], "overdose"),
    "oded": "overdosed",
    **dict.fromkeys(["pregnent", "pregant", "preggo", "preggers"], "pregnant"),
    "bf": "breastfeeding",  # "my bf", or opening the question: a boyfriend (`normalise`)
    "ttc": "trying to conceive",
    "kms": "kill myself",
    "unalive": "kill",
    "sucidal": "suicidal",
    **dict.fromkeys(["sucide", "suicde"], "suicide"),
    **dict.fromkeys(["siezure", "seisure", "sezure", "ceasure"], "seizure"),
    "fitting": "seizing",
    **dict.fromkeys(["vomitting", "puking", "barfing"], "vomiting"),
    "puked": "vomited",
    "tylenal": "tylenol",
    "ibuprofin": "ibuprofen",
    "asprin": "aspirin",
    "benadril": "benadryl",
    **dict.fromkeys(["amoxicilin", "amoxacillin"], "amoxicillin"),
    "seroquil": "seroquel",
    "zanax": "xanax",
}
_POSSESSIVES = frozenset("my her his your our their a the ex".split())
_APOSTROPHES = str.maketrans({"’": "", "‘": "", "'": "", "`": "", "´": ""})
_NON_WORD = re.compile(r"[^a-z0-9]+")
_REPEATS = re.compile(r"([a-z])\1{2,}")  # "sooooo" -> "soo"


def phrases(*patterns: str) -> re.Pattern[str]:
    """Alternatives matched as whole words of a normalised text (`normalise` pads it with spaces)."""
    return re.compile("(?<= )(?:" + "|".join(patterns) + ")(?= )")


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _index(words: frozenset[str]) -> dict[str, set[str]]:
    """Each form of every key word (the word and its one-letter deletions; for words of nine letters or more,
    two-letter deletions too) -> the key words it comes from: a symmetric-deletion index, in which two words are
    within an edit or two when their forms meet."""
    out: dict[str, set[str]] = {}
    for word in (w for w in words if len(w) >= 5):
        forms = {word} | _deletions(word)
        if len(word) >= 9:
            forms |= {twice for once in _deletions(word) for twice in _deletions(once)}
        for form in forms:
            out.setdefault(form, set()).add(word)
    return out


_INDEX = _index(KEY_WORDS)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count one), or limit + 1 once it is over `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


@lru_cache(maxsize=65536)
def correct(word: str) -> str:
    """The key word `word` is a misspelling of (one edit from one of five letters or more, two from one of nine or
    more), or `word` itself."""
    if word in _VARIANTS:
        return _VARIANTS[word]
    if word in KEY_WORDS or word in _REAL_WORDS or len(word) < 5 or word.isdigit():
        return word
    candidates: set[str] = set()
    # The word and its one-letter deletions meet the key words' forms (up to two deletions for long ones): enough
    # for one edit anywhere and two for long words, at a fraction of the lookups of two-letter deletions here.
    for form in {word} | _deletions(word):
        candidates |= _INDEX.get(form, set())
    limit = 2 if len(word) >= 9 else 1
    close = [(edit_distance(word, c, limit), c) for c in candidates]
    close = [(d, c) for d, c in close if d <= (2 if len(c) >= 9 else 1) and d <= limit]
    return min(close)[1] if close else word


def normalise(text: str) -> str:
    """` words of the text `: lower case, no apostrophes, words corrected, padded with a space on each side so
    that patterns can match whole words with spaces."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    words = _REPEATS.sub(r"\1\1", _NON_WORD.sub(" ", text)).split()
    out: list[str] = []
    i = 0
    while i < len(words):
        pair = words[i : i + 2]
        joined = "".join(pair) if len(pair) == 2 and min(map(len, pair)) >= 3 else ""
        if joined and correct(joined) in KEY_WORDS and correct(pair[0]) not in KEY_WORDS:
            out.append(correct(joined))  # "keto acidosis" -> "ketoacidosis"
            i += 2
            continue
        boyfriend = words[i] == "bf" and (i == 0 or words[i - 1] in _POSSESSIVES)
        out.append("boyfriend" if boyfriend else correct(words[i]))
        i += 1
    return " " + " ".join(out) + " "


_SYMPTOM = (
    r"(?:chest )?pains?|headaches?|fever|(?:a )?temperature|bleeding|blood|vomiting|sick|nausea|dizziness|dizzy|"
    r"breathlessness|shortness of breath|trouble breathing|swelling|rash|numbness|weakness|confusion|symptoms"
)
# A symptom the asker says is absent: "no chest pain, no breathlessness", "not sick", "without fever or rash".
_DENIED = phrases(
    r"(?:no|not|without|nor|never had|dont have|do not have|doesnt have|hasnt had|havent had|denies)(?: any| a)? "
    rf"(?:{_SYMPTOM})(?: (?:or|and|nor) (?:{_SYMPTOM}))*"
)


# Words that mark a sentence's language, none of them a word of another list: English function words, and those of
# the languages other questions come in most (Spanish, French, German, Portuguese, Italian, Dutch).
_ENGLISH = frozenset(
    "the and is are was were my i im ive what how why when of to it its have has had can do does did with for should "
    "this that you your he she his her they after from will would not get got feel been or on at if".split()
)
_FOREIGN = frozenset(
    "el la los las y muy mucho mi mis es que por con para una del le les et je mon ma est pas avec pour dans il "
    "ne se sont der das und ich mein meine ist nicht mit fur ein eine nao eu meu minha com uma di sono della mio "
    "molto anche questo het een ik niet zijn ook".split()
)


def read_as_english(question: str) -> bool:
    """Whether the safety rules can read `question`: not mostly in a non-Latin script, and not a sentence with at
    least two function words of another language and none of English. A question in another language is an
    emergency to `assess` (the rules read English only: the more protective level)."""
    letters = [c for c in question if c.isalpha()]
    latin = sum(unicodedata.name(c, "").startswith("LATIN") for c in letters)
    if letters and latin < len(letters) / 2:
        return False
    text = unicodedata.normalize("NFKD", question.casefold()).encode("ascii", "ignore").decode()
    words = _NON_WORD.sub(" ", text).split()
    return any(w in _ENGLISH for w in words) or sum(w in _FOREIGN for w in words) < 2


# A disease's type in Roman numerals: "type i" is no first person ("citrullinemia type I").
_ROMAN_TYPE = re.compile(r"(?<= )(type|class|grade|stage) (i|ii|iii|iv)(?= )")


def question_text(question: str) -> str:
    """A question as the safety rules and the learned model read it: normalised, without the symptoms it denies."""
    text = _ROMAN_TYPE.sub(lambda m: f"{m[1]} {('i', 'ii', 'iii', 'iv').index(m[2]) + 1}", normalise(question))
    return _DENIED.sub(" ", text)

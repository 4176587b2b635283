"""The whole MedQuAD corpus in ../shared/data: no boilerplate family reaches training, no test text does either."""

import re
from collections import Counter
from itertools import chain
from pathlib import Path

import pytest

from medimind_assets.data import mediqa, medquad
from medimind_assets.data.cleaning import clean_answer, normalize_key, normalize_whitespace
from medimind_assets.data.overlap import COMMON_IN_ANSWERS, ShingleIndex, shingles
from medimind_assets.data.safety import classify_safety

# Each boilerplate family as a reader would spot it in a published row.
FAMILIES = {
    "opens with a question": lambda r: re.match(
        r"^(?:what|how|who|is|are|can|do|does|should|which|when|where|why)\b[^.!?\n]{0,250}\?", r["response"], re.I
    ),
    "missing table": lambda r: re.search(r"the table below|Human Phenotype Ontology", r["response"], re.I),
    "list of links": lambda r: r["response"].startswith("These resources"),
    "Summary prefix": lambda r: re.match(r"summary\b", r["response"], re.I),
    "information request": lambda r: r["instruction"].lower().startswith("do you have information"),
    "click here": lambda r: re.search(r"click here", r["response"], re.I),
    "site navigation": lambda r: re.search(r"(?m)^(?:More on:|Frequently Asked Que)", r["response"]),
}


@pytest.fixture(scope="module")
def training(real_build):
    return [r for r in real_build.rows if r["split"] != "test"]


@pytest.mark.parametrize("family", FAMILIES)
def test_boilerplate_families_stay_out_of_training(training, family):
    hits = [r for r in training if FAMILIES[family](r)]
    # A few genuine answers may open with a rhetorical question or mention a table: under 1% of the rows.
    assert len(hits) < 0.01 * len(training), [(r["origin"], r["response"][:80]) for r in hits[:5]]


def test_each_family_was_repaired_or_rejected_and_counted(real_build):
    assert real_build.repaired["restated_question"] > 1500
    assert real_build.repaired["summary_prefix"] >= 290 and real_build.repaired["question_information_request"] >= 290
    assert real_build.repaired["question_capitalised"] >= 16  # NINDS's second schema asks in lower case
    assert real_build.rejected["missing_table"] > 1500
    assert real_build.rejected["link_list"] > 1000
    assert real_build.rejected["answer_only_question"] > 0 and real_build.rejected["navigation_only"] > 0
    ghr = real_build.collections["3_GHR_QA"]
    assert ghr["rejected/link_list"] > 1000 and ghr["rejected/answer_shared_too_widely"] > 300


def test_every_collection_is_accounted_for(real_build):
    collections = real_build.collections
    assert set(collections) == {
        "mediqa_qa",
        "1_CancerGov_QA",
        "2_GARD_QA",
        "3_GHR_QA",
        "4_MPlus_Health_Topics_QA",
        "5_NIDDK_QA",
        "6_NINDS_QA",
        "9_CDC_QA",
        "12_MPlusHerbsSupplements_QA",
    }
    for name, counts in collections.items():
        rejected = sum(v for k, v in counts.items() if k.startswith("rejected/"))
        assert counts["rows"] + rejected == counts["pairs"], name
    assert collections["6_NINDS_QA"]["files"] == 277 and collections["6_NINDS_QA"]["pairs"] == 1104
    assert collections["12_MPlusHerbsSupplements_QA"]["rows"] == 0
    assert (
        Counter(r["question_id"].split(":")[1].split("/")[0] for r in real_build.rows if r["source"] == "medquad")[
            "6_NINDS_QA"
        ]
        == collections["6_NINDS_QA"]["rows"]
    )


def test_no_answer_is_shared_by_more_questions_than_the_cap(training):
    counts = Counter(normalize_key(r["response"]) for r in training)
    assert max(counts.values()) <= 3


def test_no_training_answer_equals_or_nearly_equals_a_test_candidate(shared_data, training):
    path = shared_data / "mediqa2019_qa" / mediqa.TASK_DIR / mediqa.TEST_LABELLED_FILE
    candidates = [
        normalize_key(clean_answer(a.text, strip_prefix=True))
        for q in mediqa.parse_mediqa_file(path)
        for a in q.answers
    ]
    assert len(candidates) == 1107
    keys = [normalize_key(r["response"]) for r in training]
    assert not set(keys) & set(candidates)
    grams = [shingles(k) for k in keys]
    counts = Counter(chain.from_iterable(shingles(k) for k in set(keys)))
    common = {gram for gram, n in counts.items() if n >= COMMON_IN_ANSWERS}
    index = ShingleIndex([shingles(c) for c in candidates], ignore=common)
    assert max(index.best_match(g)[0] for g in grams) < 0.5


def test_known_near_copies_of_test_answers_were_dropped(real_build):
    rejected = real_build.rejected
    assert rejected["near_test_answer"] > 100
    # Equal to a test answer; some go first as answers to a question holding a test question (`near_test_question`).
    assert rejected["overlaps_test_answer"] + rejected["near_test_question"] > 100 and rejected["near_test_question"]


@pytest.mark.parametrize("stem", ["0001595", "0001618", "0004085", "0004506", "0005507", "0006570"])
def test_long_gard_answers_are_cut_at_a_boundary(shared_data, real_build, stem):
    path = shared_data / "medquad" / "2_GARD_QA" / f"{stem}.xml"
    originals = [normalize_whitespace(p.answer) for p in medquad.parse_medquad_file(path)]
    rows = [r for r in real_build.rows if r["origin"].endswith(f"2_GARD_QA/{stem}.xml")]
    for row in rows:
        response = row["response"]
        if response.endswith((".", "!", "?")):
            continue
        original = next(o for o in originals if response[-200:] in o)
        rest = original[original.index(response[-200:]) + 200 :]
        table = rest.lstrip().startswith("The Human Phenotype Ontology")  # the missing table's pointer, cut there
        assert table or rest.startswith((" - ", "\n")), f"{stem}: cut inside a list item: ...{response[-60:]!r}"
    assert rows


@pytest.mark.parametrize(
    "origin_part", ["9_CDC_QA/0000319.xml", "9_CDC_QA/0000381.xml", "2_GARD_QA/0000676.xml", "2_GARD_QA/0006597.xml"]
)
def test_named_stubs_never_become_rows(real_build, origin_part):
    for row in real_build.rows:
        if row["origin"].endswith(origin_part):
            assert "FAQs" not in row["response"] and not row["response"].endswith("?")


def test_safety_labels_of_the_corpus_follow_words_not_substrings(real_build):
    dwarfism = "What are the symptoms of Dwarfism, low-birth-weight type with unresponsiveness to growth hormone?"
    assert classify_safety(dwarfism) == "safe"
    assert {r["safety_level"] for r in real_build.rows if "unresponsiveness" in r["instruction"]} <= {"safe"}
    assert classify_safety("How many people are affected by Heart Attack?") == "safe"


def test_the_corpus_build_is_large_and_every_split_is_filled(real_build):
    splits = Counter(r["split"] for r in real_build.rows)
    assert splits["train"] > 10000 and splits["validation"] > 1000 and splits["test"] == 563
    assert Path(real_build.rows[0]["origin"]).parts[0] in {"mediqa2019_qa", "medquad"}

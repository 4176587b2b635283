"""Raw files one step outside the upstream examples: other layouts, unreadable folders, repeated or missing ids,
markup inside answers. Each is an error naming the file, or read the way a reader of the page would."""

import os
from pathlib import Path

import pytest

from medimind_assets.data import mediqa, medquad, sources
from medimind_assets.data.boilerplate import scrub_answer
from medimind_assets.data.build import build_dataset
from medimind_assets.data.cleaning import clean_answer, clean_question, compact_key, junk_reason, normalize_key
from medimind_assets.data.errors import RawDataError

TASK = Path("mediqa2019_qa") / mediqa.TASK_DIR


def _medquad_file(path: Path, body: str, doctype: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}<Document id="1">{body}</Document>\n')
    return path


def _pair(question: str, answer: str, qid: str | None = "1") -> str:
    attribute = f' qid="{qid}"' if qid else ""
    return f"<QAPair><Question{attribute}>{question}</Question><Answer>{answer}</Answer></QAPair>"


@pytest.mark.parametrize("misplaced", ["MedQuAD-master/1_CancerGov_QA/x.xml", "x.xml", "__MACOSX/2_GARD_QA/._x.xml"])
def test_a_medquad_file_outside_collection_folders_is_named_not_skipped(sample_copy, misplaced):
    folder = sample_copy / sources.MEDQUAD
    path = _medquad_file(folder / misplaced, f"<QAPairs>{_pair('What is X?', 'X is a condition.')}</QAPairs>")
    with pytest.raises(RawDataError, match=f"{path}.*not at medquad/<collection>/<document>.xml"):
        build_dataset(sample_copy)
    with pytest.raises(RawDataError, match="not at medquad/<collection>"):  # the observation says the same
        sources.snapshot(sample_copy, sources.MEDQUAD)


def test_a_folder_that_cannot_be_listed_is_an_error_not_a_smaller_dataset(sample_copy, monkeypatch):
    locked = sample_copy / sources.MEDQUAD / "2_GARD_QA"
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    for read in (build_dataset, lambda raw: sources.snapshot(raw, sources.MEDQUAD)):
        with pytest.raises(RawDataError, match=f"{locked}: cannot be read: Permission denied"):
            read(sample_copy)


def test_a_file_that_cannot_be_hashed_is_named(sample_copy, monkeypatch):
    def sha256_file(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(sources, "sha256_file", sha256_file)
    with pytest.raises(RawDataError, match=r"\.xml: cannot be read: Permission denied"):
        sources.snapshot(sample_copy, sources.MEDQUAD)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ('<Question QID="2">', '<Question QID="1">', 'QID="1" appears twice'),
        ('AID="1_Answer2"', 'AID="1_Answer1"', 'QID="1": AID="1_Answer1" appears twice'),
    ],
)
def test_a_repeated_mediqa_id_is_an_error(sample_copy, old, new, problem):
    path = sample_copy / TASK / mediqa.TEST_LABELLED_FILE
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RawDataError, match=f"{path}:.*{problem} \\(first at line"):
        mediqa.parse_mediqa_file(path)


def test_medquad_questions_without_ids_are_keyed_by_place_and_repeats_refused(tmp_path):
    pairs = _pair("What is A?", "A is one thing.", None) + _pair("What is B?", "B is another.", None)
    path = _medquad_file(tmp_path / "c" / "1.xml", f"<QAPairs>{pairs}</QAPairs>")
    assert [p.question_key for p in medquad.parse_medquad_file(path)] == ["c/1:#1", "c/1:#2"]
    _medquad_file(path, f"<QAPairs>{_pair('What is A?', 'A.')}{_pair('What is B?', 'B.')}</QAPairs>")
    with pytest.raises(RawDataError, match=f'{path}:.*question id "1" appears twice'):
        medquad.parse_medquad_file(path)


def test_a_test_question_without_a_correct_answer_is_still_kept_out_of_training(sample_copy):
    path = sample_copy / TASK / mediqa.TEST_LABELLED_FILE
    test = mediqa.parse_mediqa_file(path)[0]
    text = path.read_text(encoding="utf-8")
    start, end = text.index("<Question "), text.index("</Question>")
    first = (
        text[start:end]
        .replace('ReferenceScore="3"', 'ReferenceScore="2"')
        .replace('ReferenceScore="4"', 'ReferenceScore="1"')
    )
    path.write_text(text[:start] + first + text[end:], encoding="utf-8")  # no correct answer to the first question
    medquad_file = next((sample_copy / sources.MEDQUAD).glob("*/*.xml"))
    _medquad_file(medquad_file, f"<QAPairs>{_pair(test.text, 'An answer long enough to be kept as a row.')}</QAPairs>")
    result = build_dataset(sample_copy)
    assert not [row for row in result.rows if row["instruction"] == test.text.strip()]
    assert result.collections[medquad_file.parent.name]["rejected/overlaps_test_question"] >= 1


def test_an_entity_skipped_under_an_external_dtd_is_named(tmp_path):
    doctype = '<!DOCTYPE Document SYSTEM "medquad.dtd">\n'
    path = _medquad_file(tmp_path / "c" / "1.xml", f"<QAPairs>{_pair('What is X?', 'X&nbsp;is')}</QAPairs>", doctype)
    with pytest.raises(RawDataError, match=f"{path}:.*undefined entity &nbsp;"):
        medquad.parse_medquad_file(path)


def test_nested_and_escaped_markup_reads_as_text(tmp_path):
    nested = "<p>X is a disorder.</p><p>It results from <b>too much</b> hormone.</p><ul><li>One</li><li>Two</li></ul>"
    path = _medquad_file(tmp_path / "c" / "1.xml", f"<QAPairs>{_pair('What is X?', nested)}</QAPairs>")
    answer = clean_answer(medquad.parse_medquad_file(path)[0].answer)
    assert answer == "X is a disorder.\n\nIt results from too much hormone.\n\nOne\n\nTwo"
    # Escaped in the XML ("&lt;p&gt;", "&amp;quot;"), markup reaches the text as characters.
    escaped = "<p>X is a disorder.</p><p>It is &quot;rare&quot;&nbsp;today.</p>"
    assert clean_answer(escaped) == 'X is a disorder.\n\nIt is "rare" today.'

    assert clean_answer("Levels <5 mg/dL & rising; AT&T") == "Levels <5 mg/dL & rising; AT&T"


def test_files_in_upper_case_are_read_and_broken_links_named(sample_copy):
    """A collection copied by a tool that writes ".XML", and links to a drive that is not mounted: never a silently
    smaller dataset."""
    before = len(build_dataset(sample_copy).rows)
    some = sorted((sample_copy / sources.MEDQUAD).glob("*/*.xml"))[0]
    some.rename(some.with_suffix(".XML"))
    assert len(build_dataset(sample_copy).rows) == before
    assert any(f.path.endswith(".XML") for f in sources.snapshot(sample_copy, sources.MEDQUAD).files)
    for link in (some.parent / "0000999.xml", sample_copy / sources.MEDQUAD / "7_SeniorHealth_QA"):
        link.symlink_to(sample_copy / "not-mounted" / link.name)
        with pytest.raises(RawDataError, match=f"{link}: is a link to .*not-mounted.*, which does not exist"):
            build_dataset(sample_copy)
        link.unlink()
    (some.parent / ".#0000027.xml").symlink_to("root@host.12345:1700000000")  # an editor's lock file: not data
    assert len(build_dataset(sample_copy).rows) == before


def test_an_external_entity_is_an_error_not_missing_text(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host-name")
    doctype = f'<!DOCTYPE Document [<!ENTITY ext SYSTEM "file://{secret}">]>\n'
    body = f"<QAPairs>{_pair('What is X?', 'X is &ext; a condition.')}</QAPairs>"
    path = _medquad_file(tmp_path / "c" / "1.xml", body, doctype)
    with pytest.raises(RawDataError, match=f"{path}:3: external entity .*secret.txt' is not read"):
        medquad.parse_medquad_file(path)


def test_markup_of_any_common_element_is_removed_and_scripts_with_their_content():
    escaped = (
        '&lt;img src="x.png" alt="diagram"&gt;X is rare.&lt;hr/&gt;&lt;script&gt;alert(1)&lt;/script&gt;'
        '&lt;iframe src="https://x.example"&gt;&lt;/iframe&gt;&lt;style&gt;p {color: red}&lt;/style&gt;It is treated.'
    )
    assert clean_answer(escaped) == "X is rare.\n\nIt is treated."
    assert clean_answer("Levels <5 mg/dL and x > 3 <b and c") == "Levels <5 mg/dL and x > 3 <b and c"


@pytest.mark.parametrize(
    ("answer", "kept"),
    [
        ("Do not: drive after taking this medicine.", "Do not: drive after taking this medicine."),
        ("Adults and children over 12: take 2 tablets.", "Adults and children over 12: take 2 tablets."),
        ("Flu (Symptoms): Fever and aches come on suddenly.", "Fever and aches come on suddenly."),
        (
            "COVID-19 vaccines (Overview): mRNA vaccines teach cells to make a protein.",
            "mRNA vaccines teach cells to make a protein.",
        ),
        (
            "Acid reflux (GERD): pH monitoring shows acid in the food pipe.",
            "pH monitoring shows acid in the food pipe.",
        ),
    ],
)
def test_a_mediqa_page_title_goes_but_an_answer_that_starts_with_a_colon_stays(answer, kept):
    assert clean_answer(answer, strip_prefix=True) == kept


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("This answer has been removed due to copyright restrictions.", "placeholder_answer"),
        ("Answer not available.", "placeholder_answer"),
        ("N/A - answer removed for copyright reasons.", "placeholder_answer"),
        ("No information available.", "placeholder_answer"),
        ("Answer not available yet.", "placeholder_answer"),
        ("Text removed at the author's request.", "placeholder_answer"),
        ("No information is available on the use of ibuprofen during breastfeeding.", None),
        ("NA (noradrenaline) raises blood pressure and heart rate during stress", None),
        ("Not available in stores; ask your pharmacist for it, it is a prescription drug.", None),
        ("The information about dosage is not available for children under 2, so ask your doctor.", None),
    ],
)
def test_a_placeholder_where_the_answer_was_is_rejected(answer, reason):
    assert junk_reason("What is X?", answer, 20) == reason


def test_a_pointer_to_a_section_the_row_lacks_is_no_answer():
    assert scrub_answer("How is X treated?", "See the Treatment Options section.", 20).rejected == "boilerplate_only"
    advice = "See your doctor if the rash spreads or you get a fever."
    assert scrub_answer("What is a rash?", advice, 20).rejected is None


def test_questions_that_name_nothing_and_test_question_variants_never_train(sample_copy):
    path = sample_copy / TASK / mediqa.TEST_LABELLED_FILE
    test = clean_question(mediqa.parse_mediqa_file(path)[0].text)
    variant = test.replace("'", "").replace("-", "")
    assert variant != test or " " in test
    medquad_file = sorted((sample_copy / sources.MEDQUAD).glob("*/*.xml"))[0]
    pairs = _pair(variant, "An answer long enough to be kept as a row.", "1")
    pairs += _pair("Who is at risk for ? ?", "Anyone can get it, at any age, anywhere.", "2")
    pairs += _pair("How to prevent  ?", "Wash your hands often with soap and water.", "3")
    _medquad_file(medquad_file, f"<QAPairs>{pairs}</QAPairs>")
    result = build_dataset(sample_copy)
    stats = result.collections[medquad_file.parent.name]
    assert stats["rejected/question_names_nothing"] == 2
    assert stats["rejected/overlaps_test_question"] >= 1
    assert not [r for r in result.rows if r["split"] != "test" and compact_key(r["instruction"]) == compact_key(test)]
    assert compact_key("I'm scared, the e-cigarette isn't 50 mg") == compact_key("Im scared the ecigarette isnt 50mg")


def test_variants_of_one_question_share_a_split(sample_copy):
    medquad_file = sorted((sample_copy / sources.MEDQUAD).glob("*/*.xml"))[0]
    # Two spellings of one question, many times, so that some pair would split without the rule.
    pairs = "".join(
        _pair(
            f"Is branchio-oculo-facial syndrome {n} inherited?", f"Answer {n} is long enough to be a row here.", f"a{n}"
        )
        + _pair(
            f"Is branchiooculofacial syndrome {n} inherited?", f"Other {n} is long enough to be a row too.", f"b{n}"
        )
        for n in range(40)
    )
    _medquad_file(medquad_file, f"<QAPairs>{pairs}</QAPairs>")
    rows = build_dataset(sample_copy).rows
    for n in range(40):
        splits = {
            r["split"] for r in rows if compact_key(r["instruction"]).startswith(f"isbranchiooculofacialsyndrome{n}i")
        }
        assert len(splits) == 1, (n, splits)


def test_every_unreadable_file_of_both_sources_is_reported_at_once(sample_copy):
    mediqa_file = sample_copy / TASK / mediqa.TEST_LABELLED_FILE
    mediqa_file.write_text(mediqa_file.read_text(encoding="utf-8")[:200], encoding="utf-8")
    medquad_file = sorted((sample_copy / sources.MEDQUAD).glob("*/*.xml"))[0]
    medquad_file.write_text(medquad_file.read_text(encoding="utf-8")[:100], encoding="utf-8")
    with pytest.raises(RawDataError, match="2 raw file") as caught:
        build_dataset(sample_copy)
    assert mediqa_file.name in str(caught.value) and str(medquad_file) in str(caught.value)


def test_a_test_question_with_a_subject_line_and_a_word_spelt_otherwise_never_trains(sample_copy):
    """MEDIQA's validation file holds a test question again, a subject line in front and "losing" for "loosing"."""
    from medimind_assets.data.overlap import NearTestQuestions

    path = sample_copy / TASK / mediqa.TEST_LABELLED_FILE
    test = max((clean_question(q.text) for q in mediqa.parse_mediqa_file(path)), key=len)
    words = test.split()
    words[len(words) // 2] = words[len(words) // 2] + "s"  # one word spelt otherwise
    variant = "my question. " + " ".join(words)
    medquad_file = sorted((sample_copy / sources.MEDQUAD).glob("*/*.xml"))[0]
    pairs = _pair(variant, "An answer long enough to be kept as a row.", "1")
    pairs += _pair("Who is at risk for gout and what can people do?", "Men over forty, and people who drink.", "2")
    _medquad_file(medquad_file, f"<QAPairs>{pairs}</QAPairs>")
    result = build_dataset(sample_copy)
    assert result.collections[medquad_file.parent.name]["rejected/near_test_question"] == 1
    assert [r for r in result.rows if r["instruction"].startswith("Who is at risk for gout")]
    near = NearTestQuestions([normalize_key(test)])
    assert near.held_in(normalize_key(variant)) and not near.held_in(normalize_key(" ".join(words[: len(words) // 2])))


@pytest.mark.parametrize(
    ("training", "near"),
    [
        ("How much ibuprofen is too much for an adult?", True),
        ("How to prevent Diabetes, Heart Disease, and Stroke?", True),
        ("How much ibuprofen can a child take?", False),  # shares words, holds no test question whole
        ("What is gout and who gets it?", False),  # "what is gout": three words are too few to tell
    ],
)
def test_a_short_test_question_held_whole_in_another_question_is_that_question(training, near):
    from medimind_assets.data.overlap import NearTestQuestions

    tests = NearTestQuestions(
        normalize_key(q) for q in ["how much ibuprofen is too much", "how to prevent diabetes", "what is gout"]
    )
    assert tests.held_in(normalize_key(training)) is near


def test_a_data_file_name_that_is_no_text_is_named_not_a_crash(sample_copy):
    folder = sample_copy / sources.MEDQUAD / "2_GARD_QA"
    name = os.fsencode(folder) + b"/caf\xe9.xml"  # latin-1 bytes: no UTF-8 text
    with open(name, "wb") as handle:
        handle.write(os.fsencode((sorted(folder.glob("*.xml"))[0]).read_text(encoding="utf-8")))
    with pytest.raises(RawDataError, match=r"caf\\udce9\.xml: its name is not text in the file system.s encoding"):
        build_dataset(sample_copy)
    os.unlink(name)
    with open(os.fsencode(folder) + b"/r\xe9sum\xe9 notes.pdf", "wb") as handle:  # not data: no error
        handle.write(b"%PDF")
    assert build_dataset(sample_copy).rows


@pytest.mark.parametrize(
    ("question", "nothing"),
    [
        ("Who is at risk for?", True),
        ("How to prevent?", True),
        ("What is lisinopril used for?", False),
        ("What is insulin made of?", False),
        ("Who should I talk to?", False),
        ("What should I watch out for?", False),
    ],
)
def test_only_a_template_with_an_empty_subject_names_nothing(question, nothing):
    from medimind_assets.data.cleaning import names_nothing

    assert names_nothing(question) is nothing


def test_a_small_dataset_moves_a_question_to_validation_with_its_variants():
    from medimind_assets.data.build import _ensure_validation, _question_rank
    from medimind_assets.data.validation import check_split_by_question

    variants = ["What are e-cigarettes?", "What are ecigarettes?"]
    highest = max(_question_rank(normalize_key(q)) for q in variants)
    # Another question that ranks after both: a variant is the one the hash moves, and must take the other along.
    other = next(q for q in (f"What is disease {n}?" for n in range(100)) if _question_rank(normalize_key(q)) > highest)
    rows = [{"instruction": q, "split": "train", "question_id": str(n)} for n, q in enumerate([*variants, other])]
    _ensure_validation(rows, 0.1)
    assert {r["split"] for r in rows} == {"train", "validation"}
    assert check_split_by_question(rows).passed


def test_a_test_question_with_a_decimal_asked_again_in_training_is_rejected(sample_copy):
    """ "1.5 mg" keeps its space between numbers in the compact key, on both sides of the comparison."""
    folder = sample_copy / TASK
    question = "is 1.5 mg of aspirin safe"
    for name in (mediqa.TEST_LABELLED_FILE, "MEDIQA2019-Task3-QA-TestSet.xml"):
        path = folder / name
        text = path.read_text(encoding="utf-8")
        start = text.index("<QuestionText>") + len("<QuestionText>")
        path.write_text(text[:start] + question + text[text.index("</QuestionText>", start) :], encoding="utf-8")
    medquad_file = sorted((sample_copy / sources.MEDQUAD).glob("*/*.xml"))[0]
    pairs = _pair("Is 1.5 mg of aspirin safe?", "An answer long enough to be kept as a row.", "1")
    pairs += _pair("Is 15 mg of aspirin safe?", "Another answer long enough to be kept as a row.", "2")
    _medquad_file(medquad_file, f"<QAPairs>{pairs}</QAPairs>")
    result = build_dataset(sample_copy)
    assert result.collections[medquad_file.parent.name]["rejected/overlaps_test_question"] >= 1
    trained = {r["instruction"] for r in result.rows if r["split"] != "test"}
    assert "Is 1.5 mg of aspirin safe?" not in trained and "Is 15 mg of aspirin safe?" in trained


def test_a_dataset_of_one_question_and_its_variants_keeps_it_to_train_on():
    from medimind_assets.data.build import _ensure_validation

    rows = [
        {"instruction": q, "split": "train", "question_id": str(n)}
        for n, q in enumerate(["What is e-cigarettes?", "What is ecigarettes?"])
    ]
    _ensure_validation(rows, 0.1)
    assert {r["split"] for r in rows} == {"train"}


def test_an_answer_shared_across_splits_trains_with_every_question_it_pulls_along():
    """Q1 shares answer A with a training question and answer B with Q2: all three train, B in one split only."""
    from medimind_assets.data.build import _ensure_validation, _shared_answers_train

    rows = [
        {"id": "0", "instruction": "What is gout?", "split": "train"},
        {"id": "1", "instruction": "What causes gout?", "split": "validation"},
        {"id": "2", "instruction": "What causes gout?", "split": "validation"},
        {"id": "3", "instruction": "How is gout treated?", "split": "validation"},
        {"id": "4", "instruction": "What is lupus?", "split": "train"},
    ]
    answers = {"0": "a", "1": "a", "2": "b", "3": "b", "4": "c"}
    _shared_answers_train(rows, answers)
    assert [r["split"] for r in rows] == ["train"] * 5
    _ensure_validation(rows, 0.1, answers)  # validation is empty again: only lupus, which shares nothing, may go
    assert [r["instruction"] for r in rows if r["split"] == "validation"] == ["What is lupus?"]

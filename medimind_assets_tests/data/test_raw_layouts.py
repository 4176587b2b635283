"""Raw files one step outside the upstream examples: other layouts, unreadable folders, repeated or missing ids,
markup inside answers. Each is an error naming the file, or read the way a reader of the page would."""

import os
from pathlib import Path

import pytest

from medimind_assets.data import mediqa, medquad, sources
from medimind_assets.data.build import build_dataset
from medimind_assets.data.cleaning import clean_answer
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

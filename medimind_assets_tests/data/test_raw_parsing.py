"""Parsing the real upstream files, and clear errors for every kind of bad input."""

import re
from pathlib import Path

import pytest

from medimind_assets.data import mediqa, medquad
from medimind_assets.data.errors import RawDataError
from medimind_assets.evaluation.mediqa_metrics import read_judgements

TASK = Path("mediqa2019_qa") / mediqa.TASK_DIR


@pytest.mark.parametrize(
    ("name", "questions", "answers", "correct"),
    [
        (mediqa.TRAINING_FILES["LiveQAMed"], 104, 839, 229),
        (mediqa.TRAINING_FILES["Alexa"], 104, 862, 405),
        (mediqa.TRAINING_FILES["Validation"], 25, 234, 94),
        (mediqa.TEST_LABELLED_FILE, 150, 1107, 572),
    ],
)
def test_mediqa_counts_match_upstream(shared_data, name, questions, answers, correct):
    parsed = mediqa.parse_mediqa_file(shared_data / TASK / name, require_scores=True)
    assert len(parsed) == questions
    assert sum(len(q.answers) for q in parsed) == answers
    assert sum(a.is_correct for q in parsed for a in q.answers) == correct


def test_known_facts_of_the_real_data(shared_data):
    live = mediqa.parse_mediqa_file(shared_data / TASK / mediqa.TRAINING_FILES["LiveQAMed"])
    assert sum(1 for q in live if not any(a.is_correct for a in q.answers)) == 32
    q52 = next(q for q in live if q.qid == "52")
    top = min(q52.answers, key=lambda a: a.system_rank)
    assert not top.is_correct
    unlabelled = mediqa.parse_mediqa_file(shared_data / TASK / mediqa.TEST_UNLABELLED_FILE)
    assert all(a.reference_score is None for q in unlabelled for a in q.answers)


def test_ground_truth_files_with_and_without_header(shared_data):
    root = shared_data / "mediqa2019_qa"
    validation = read_judgements(root / mediqa.VALIDATION_GROUND_TRUTH)
    test = read_judgements(root / mediqa.TEST_GROUND_TRUTH)
    assert (len(validation), sum(r.label for r in validation)) == (234, 94)
    assert (len(test), sum(r.label for r in test)) == (1107, 572)


def test_older_score_spelling_is_accepted(tmp_path):
    path = tmp_path / "old.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Root>\n<Question QID="1"><QuestionText>q</QuestionText>'
        '<AnswerList><Answer AID="1_Answer1" ReferenceScore="4-Excellent"><AnswerText>a</AnswerText></Answer>'
        '<Answer AID="1_Answer2" ReferenceScore="2 - Related"><AnswerText>b</AnswerText></Answer>'
        "</AnswerList></Question>\n</Root>\n",
        encoding="utf-8",
    )
    scores = [a.reference_score for a in mediqa.parse_mediqa_file(path)[0].answers]
    assert scores == [4, 2]


def _question(answer_attrs: str, extra: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Root>\n  <Question QID="7">\n    <QuestionText>q</QuestionText>\n'
        f'    <AnswerList>\n      <Answer AID="7_Answer1" {answer_attrs}>{extra}<AnswerText>a</AnswerText>'
        "</Answer>\n    </AnswerList>\n  </Question>\n</Root>\n"
    )


@pytest.mark.parametrize(
    ("content", "message", "line"),
    [
        (_question('ReferenceScore="Excellent"'), 'ReferenceScore="Excellent" is not a score from 1 to 4', 6),
        (_question('ReferenceScore="5"'), "is not a score from 1 to 4", 6),
        (_question('ReferenceScore="4"', "<Comment>x</Comment>"), "unexpected element <Comment>", 6),
        (_question(""), "has no ReferenceScore", 6),
        (_question('ReferenceScore="4"')[:150], "malformed or truncated XML", None),
        ('<?xml version="1.0"?>\n<Root>\n<Question QID="1">\n</Root>\n', "malformed or truncated XML", 4),
        ("", "file is empty", None),
        (
            _question('ReferenceScore="4"', "<AnswerText>b</AnswerText>"),
            "<AnswerText> inside <Answer> appears twice",
            6,
        ),
        (
            _question('ReferenceScore="4"').replace(
                "<QuestionText>q</QuestionText>", "<QuestionText>q</QuestionText>" * 2
            ),
            "<QuestionText> inside <Question> appears twice",
            4,
        ),
    ],
)
def test_bad_mediqa_input_names_file_and_line(tmp_path, content, message, line):
    path = tmp_path / "bad.xml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RawDataError) as info:
        mediqa.parse_mediqa_file(path, require_scores=True)
    assert str(path) in str(info.value) and message in str(info.value)
    if line is not None:
        assert info.value.line == line


def test_wrong_encoding_is_reported_with_its_line(tmp_path):
    path = tmp_path / "latin1.xml"
    path.write_bytes(_question('ReferenceScore="4"').replace("<AnswerText>a", "<AnswerText>caf\xe9").encode("latin-1"))
    with pytest.raises(RawDataError, match="not valid UTF-8") as info:
        mediqa.parse_mediqa_file(path)
    assert info.value.line == 6 and str(path) in str(info.value)


@pytest.mark.parametrize(
    ("declared", "codec", "bom"),
    [
        ("ISO-8859-1", "latin-1", b""),
        ("windows-1252", "cp1252", b""),
        ("UTF-16", "utf-16-le", b"\xff\xfe"),
        ("UTF-8", "utf-8", b"\xef\xbb\xbf"),
    ],
)
def test_a_file_saved_in_the_encoding_it_declares_is_read(tmp_path, declared, codec, bom):
    """XML names its own encoding: a question saved as Latin-1 (or UTF-16 with its byte-order mark) that says so
    reads the same as in UTF-8."""
    text = _question('ReferenceScore="4"').replace('encoding="UTF-8"', f'encoding="{declared}"')
    text = text.replace("<QuestionText>q", "<QuestionText>Caf\xe9 au lait and na\xefve fever")
    path = tmp_path / "declared.xml"
    path.write_bytes(bom + text.encode(codec))
    [question] = mediqa.parse_mediqa_file(path)
    assert question.text == "Caf\xe9 au lait and na\xefve fever"


@pytest.mark.parametrize(
    ("declared", "says", "line"),
    [
        ("ascii", r"not valid ascii \(byte 0xe9 at offset", 4),
        ("klingon-8", "declares the encoding 'klingon-8', which is unknown; re-save it as UTF-8", 1),
    ],
)
def test_a_file_not_in_the_encoding_it_declares_is_refused_with_its_line(tmp_path, declared, says, line):
    text = _question('ReferenceScore="4"').replace('encoding="UTF-8"', f'encoding="{declared}"')
    path = tmp_path / "wrong.xml"
    path.write_bytes(text.replace("<QuestionText>q", "<QuestionText>caf\xe9").encode("latin-1"))
    with pytest.raises(RawDataError, match=says) as info:
        mediqa.parse_mediqa_file(path)
    assert info.value.line == line and str(path) in str(info.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(RawDataError, match="file not found"):
        mediqa.parse_mediqa_file(tmp_path / "nope.xml")


@pytest.mark.parametrize(
    ("collection", "pairs", "with_answer"),
    [
        ("1_CancerGov_QA", 729, 729),
        ("5_NIDDK_QA", 1192, 1192),
        ("9_CDC_QA", 270, 270),
        ("12_MPlusHerbsSupplements_QA", 792, 0),
    ],
)
def test_medquad_counts_match_upstream(shared_data, collection, pairs, with_answer):
    files = sorted((shared_data / "medquad" / collection).glob("*.xml"))
    parsed = [p for f in files for p in medquad.parse_medquad_file(f)]
    assert len(parsed) == pairs
    assert sum(1 for p in parsed if p.answer.strip()) == with_answer


def test_medquad_colliding_ids_stay_distinct(shared_data):
    folder = shared_data / "medquad" / "1_CancerGov_QA"
    keys = [p.question_key for f in sorted(folder.glob("*.xml")) for p in medquad.parse_medquad_file(f)]
    assert len(keys) == len(set(keys))


def test_medquad_wrong_root_is_an_error(tmp_path):
    path = tmp_path / "c" / "0001.xml"
    path.parent.mkdir()
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<Catalog></Catalog>\n', encoding="utf-8")
    with pytest.raises(RawDataError, match=r"0001.xml:2: root element is <Catalog>"):
        medquad.parse_medquad_file(path)


_PAIR = '<QAPair pid="1"><Question qid="1-1" qtype="information">What is X?</Question><Answer>X is a thing.</Answer></QAPair>'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f'<Document id="1"><Focus>X</Focus>{_PAIR}</Document>', "<Document> has no <QAPairs> element"),
        (
            '<Document id="1"><Focus>X</Focus><qaPairs><pair><question>q?</question><answer>a</answer></pair></qaPairs>'
            "</Document>",
            "<Document> has no <QAPairs> element",
        ),
        (
            f'<Document id="1"><Focus>X</Focus><QAPairs>{_PAIR}</QAPairs><Extra>{_PAIR}</Extra></Document>',
            "<QAPair> elements outside <Document>/<QAPairs>",
        ),
        (
            f'<Document id="1"><Focus>X</Focus><QAPairs>{_PAIR.replace("</Answer>", "</Answer><Answer>Y.</Answer>")}'
            "</QAPairs></Document>",
            "<Answer> inside <QAPair> appears twice",
        ),
    ],
)
def test_medquad_pairs_not_where_the_schema_puts_them_are_an_error(tmp_path, content, message):
    """Not a file of no pairs (or of the first answer only), which a build would publish without a word."""
    path = tmp_path / "c" / "0001.xml"
    path.parent.mkdir()
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RawDataError, match=re.escape(message)) as info:
        medquad.parse_medquad_file(path)
    assert str(path) in str(info.value)


def test_a_medquad_document_without_pairs_is_no_error(tmp_path):
    """Ten upstream documents hold an empty <QAPairs>."""
    path = tmp_path / "c" / "0001.xml"
    path.parent.mkdir()
    path.write_text('<Document id="1"><Focus>X</Focus><QAPairs></QAPairs></Document>', encoding="utf-8")
    assert medquad.parse_medquad_file(path) == []


def test_a_medquad_question_type_is_read_whatever_its_case_and_spaces(tmp_path):
    path = tmp_path / "c" / "0001.xml"
    path.parent.mkdir()
    path.write_text(
        f'<Document id="1"><Focus>X</Focus><QAPairs>{_PAIR}</QAPairs></Document>'.replace(
            'qtype="information"', 'qtype=" Information"'
        ),
        encoding="utf-8",
    )
    assert [p.qtype for p in medquad.parse_medquad_file(path)] == ["information"]


def test_an_xml_file_in_the_mediqa_folder_that_no_build_reads_is_an_error(sample_copy):
    from medimind_assets.data.build import build_dataset

    extra = sample_copy / "mediqa2019_qa" / mediqa.TASK_DIR / "MEDIQA2019-Task3-QA-TrainingSet3-Extra.xml"
    extra.write_text("<MEDIQA2019-Task3-QA-TrainingSet3/>", encoding="utf-8")
    with pytest.raises(RawDataError, match="TrainingSet3-Extra.xml.*none of the task's files"):
        build_dataset(sample_copy)


def test_markup_nested_a_thousand_deep_is_read_as_text(tmp_path):
    from medimind_assets.data.xml_reader import parse_xml, text_of

    path = tmp_path / "deep.xml"
    path.write_text("<Answer>" + "<b>" * 3000 + "deep" + "</b>" * 3000 + " end</Answer>", encoding="utf-8")
    assert text_of(parse_xml(path)) == "deep end"

"""Every MedQuAD collection is read, in either upstream schema and under any collection name."""

import shutil

import pytest

from medimind_assets.data import medquad, sources
from medimind_assets.data.errors import RawDataError, RawDataErrors

# SOURCES.md (shared/data): QAPair elements and those with a non-empty answer, per collection.
UPSTREAM_COUNTS = {
    "1_CancerGov_QA": (729, 729),
    "2_GARD_QA": (5394, 5389),
    "3_GHR_QA": (5430, 5430),
    "4_MPlus_Health_Topics_QA": (981, 981),
    "5_NIDDK_QA": (1192, 1192),
    "6_NINDS_QA": (1104, 1104),
    "9_CDC_QA": (270, 270),
    "12_MPlusHerbsSupplements_QA": (792, 0),
}
SECOND_SCHEMA = ["0000007", "0000018", "0000182", "0000244"]


@pytest.fixture(scope="module")
def parsed(shared_data):
    return medquad.parse_collections(shared_data / "medquad")


def test_every_collection_matches_its_upstream_counts(parsed):
    by_collection = {}
    for path, pairs in parsed.items():
        total, answered = by_collection.get(path.parent.name, (0, 0))
        by_collection[path.parent.name] = (total + len(pairs), answered + sum(1 for p in pairs if p.answer.strip()))
    assert by_collection == UPSTREAM_COUNTS


def test_ninds_second_schema_files_are_read(shared_data, parsed):
    for stem in SECOND_SCHEMA:
        pairs = parsed[shared_data / "medquad" / "6_NINDS_QA" / f"{stem}.xml"]
        assert len(pairs) == 4
        assert all(p.question.strip() and p.answer.strip() and p.qid.startswith(stem) for p in pairs)
    holmes = parsed[shared_data / "medquad" / "6_NINDS_QA" / "0000007.xml"][0]
    assert holmes.question.startswith("what is holmes-adie syndrome") and holmes.qtype == "information"


def test_question_keys_are_unique_across_the_corpus(parsed):
    keys = [p.question_key for pairs in parsed.values() for p in pairs]
    assert len(keys) == len(set(keys))


def test_any_collection_name_is_read(shared_data, tmp_path):
    folder = tmp_path / "medquad" / "13_SomeNewSource_QA"
    folder.mkdir(parents=True)
    shutil.copy(shared_data / "medquad" / "6_NINDS_QA" / "0000007.xml", folder / "0000001.xml")
    shutil.copy(shared_data / "medquad" / "5_NIDDK_QA" / "0000001.xml", folder / "0000002.xml")
    parsed = medquad.parse_collections(tmp_path / "medquad")
    assert {p.collection for pairs in parsed.values() for p in pairs} == {"13_SomeNewSource_QA"}
    assert sum(len(pairs) for pairs in parsed.values()) > 4


def test_every_unreadable_file_is_named_in_one_error(sample_copy):
    medquad_dir = sample_copy / "medquad"
    (medquad_dir / "5_NIDDK_QA" / "0000901.xml").write_text('<?xml version="1.0"?>\n<Article id="1"/>\n')
    (medquad_dir / "9_CDC_QA" / "0000902.xml").write_text('<?xml version="1.0"?>\n<Document id="2">\n<QAPairs>')
    with pytest.raises(RawDataErrors) as caught:
        medquad.parse_collections(medquad_dir)
    message = str(caught.value)
    assert "2 raw file(s) cannot be read" in message
    assert "5_NIDDK_QA/0000901.xml:2: root element is <Article>, not a known MedQuAD schema" in message
    assert "9_CDC_QA/0000902.xml" in message and "malformed or truncated XML" in message
    # The source asset's snapshot reports the same files, not only the first.
    with pytest.raises(RawDataError) as snap_error:
        sources.snapshot(sample_copy, sources.MEDQUAD)
    assert "0000901.xml" in str(snap_error.value) and "0000902.xml" in str(snap_error.value)

"""Parse MedQuAD collection XML files (`<collection>/<document id>.xml`), in either upstream schema (`SCHEMAS`; a
collection may mix them, as 6_NINDS_QA does). Any folder under `medquad/` laid out the same way is read.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from pathlib import Path

from medimind_assets.data.errors import RawDataError, raise_collected
from medimind_assets.data.xml_reader import check_children, data_files, line_of, parse_xml, refuse_repeat, text_of

# Element and attribute names of one upstream MedQuAD document schema.
Schema = namedtuple("Schema", "root pair_list pair question answer")
SCHEMAS = {
    schema.root: schema
    for schema in (
        Schema("Document", "QAPairs", "QAPair", "Question", "Answer"),
        Schema("DiseaseFile", "QAPairs", "QAPair", "Question", "Answer"),
        Schema("doc", "qaPairs", "pair", "question", "answer"),
    )
}


@dataclass(frozen=True)
class MedquadPair:
    collection: str
    file_stem: str
    qid: str
    qtype: str
    question: str
    answer: str

    @property
    def question_key(self) -> str:
        # Document ids collide across files (0000013_2.xml vs 0000013_2_1.xml): the file stem disambiguates.
        return f"{self.collection}/{self.file_stem}:{self.qid}"


def parse_medquad_file(path: Path) -> list[MedquadPair]:
    root = parse_xml(path)
    schema = SCHEMAS.get(root.tag)
    if schema is None:
        expected = ", ".join(f"<{name}>" for name in SCHEMAS)
        raise RawDataError(
            path, f"root element is <{root.tag}>, not a known MedQuAD schema (expected {expected})", line_of(root)
        )
    pairs: list[MedquadPair] = []
    qids: dict[str, int | None] = {}
    # A file whose pairs are not where its schema puts them would give no rows and no error.
    pair_lists = root.findall(schema.pair_list)
    if not pair_lists:
        raise RawDataError(path, f"<{root.tag}> has no <{schema.pair_list}> element", line_of(root))
    if len(list(root.iter(schema.pair))) != sum(map(len, pair_lists)):
        raise RawDataError(path, f"<{schema.pair}> elements outside <{root.tag}>/<{schema.pair_list}>", line_of(root))
    for qa_list in pair_lists:
        check_children(path, qa_list, {schema.pair})
        for pair in qa_list:
            check_children(
                path, pair, {schema.question, schema.answer}, once=frozenset({schema.question, schema.answer})
            )
            q_elem = pair.find(schema.question)
            if q_elem is None:
                raise RawDataError(path, f"<{schema.pair}> without a <{schema.question}>", line_of(pair))
            # A question's id keys its rows (and their split): without one, its place in the file stands in.
            qid = q_elem.get("qid") or pair.get("pid") or f"#{len(pairs) + 1}"
            refuse_repeat(path, f'question id "{qid}"', qids, qid, line_of(q_elem))
            pairs.append(
                MedquadPair(
                    collection=path.parent.name,
                    file_stem=path.stem,
                    qid=qid,
                    qtype=q_elem.get("qtype", "").strip().lower(),
                    question=text_of(q_elem),
                    answer=text_of(pair.find(schema.answer)),
                )
            )
    return pairs


def check_placed(medquad_dir: Path, path: Path) -> None:
    """Files are read from `medquad/<collection>/*.xml` only: one anywhere else (an archive's own top folder, a
    `__MACOSX` copy) is an error, never a collection silently left out."""
    if len(path.relative_to(medquad_dir).parts) != 2:
        raise RawDataError(
            path,
            f"not at {medquad_dir.name}/<collection>/<document>.xml, where MedQuAD files are read: move the "
            f"collection folders directly under {medquad_dir}, or remove the file",
        )


def parse_collections(medquad_dir: Path) -> dict[Path, list[MedquadPair]]:
    """The pairs of every `<collection>/*.xml`, sorted, so the dataset is built in the same order on every machine.
    Files that cannot be read are all reported together, not only the first."""
    parsed: dict[Path, list[MedquadPair]] = {}
    errors: list[RawDataError] = []
    if not medquad_dir.is_dir():
        return parsed
    for path in data_files(medquad_dir):
        if path.suffix.lower() != ".xml":
            continue
        try:
            check_placed(medquad_dir, path)
            parsed[path] = parse_medquad_file(path)
        except RawDataError as exc:
            errors.append(exc)
    raise_collected(errors)
    return parsed

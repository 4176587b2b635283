"""Parse MedQuAD collection XML files (`<collection>/<document id>.xml`).

Upstream uses two schemas, and a collection may mix them (6_NINDS_QA does):
- `<Document id=...>` (or `<DiseaseFile fid=...>` in one CDC file) / `<Focus>` / `<QAPairs>/<QAPair>` with
  `<Question qid qtype>` and `<Answer>`: almost every file;
- `<doc docid=...>` / `<doctitle-focus>` / `<qaPairs>/<pair>` with lower-case `<question>` and `<answer>`: a few
  NINDS files, several pairs each.
Nothing here depends on which collections exist: any folder under `medquad/` laid out the same way is read.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from pathlib import Path

from medimind_assets.data.errors import RawDataError, raise_collected
from medimind_assets.data.xml_reader import check_children, line_of, parse_xml, text_of

# Element and attribute names of one upstream MedQuAD document schema.
Schema = namedtuple("Schema", "root id_attr focus pair_list pair question answer")
SCHEMAS = {
    schema.root: schema
    for schema in (
        Schema("Document", "id", "Focus", "QAPairs", "QAPair", "Question", "Answer"),
        Schema("DiseaseFile", "fid", "Focus", "QAPairs", "QAPair", "Question", "Answer"),
        Schema("doc", "docid", "doctitle-focus", "qaPairs", "pair", "question", "answer"),
    )
}


@dataclass(frozen=True)
class MedquadPair:
    collection: str
    document_id: str
    file_stem: str
    qid: str
    qtype: str
    question: str
    answer: str
    focus: str

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
    document_id = root.get(schema.id_attr, path.stem)
    focus = text_of(root.find(schema.focus)).strip()
    pairs: list[MedquadPair] = []
    for qa_list in root.findall(schema.pair_list):
        check_children(path, qa_list, {schema.pair})
        for pair in qa_list:
            check_children(path, pair, {schema.question, schema.answer})
            q_elem = pair.find(schema.question)
            if q_elem is None:
                raise RawDataError(path, f"<{schema.pair}> without a <{schema.question}>", line_of(pair))
            pairs.append(
                MedquadPair(
                    collection=path.parent.name,
                    document_id=document_id,
                    file_stem=path.stem,
                    qid=q_elem.get("qid", pair.get("pid", "")),
                    qtype=q_elem.get("qtype", ""),
                    question=text_of(q_elem),
                    answer=text_of(pair.find(schema.answer)),
                    focus=focus,
                )
            )
    return pairs


def parse_collections(medquad_dir: Path) -> dict[Path, list[MedquadPair]]:
    """The pairs of every `<collection>/*.xml`, sorted, so the dataset is built in the same order on every machine.
    Files that cannot be read are all reported together, not only the first."""
    parsed: dict[Path, list[MedquadPair]] = {}
    errors: list[RawDataError] = []
    for path in sorted(p for p in medquad_dir.glob("*/*.xml") if p.is_file()):
        try:
            parsed[path] = parse_medquad_file(path)
        except RawDataError as exc:
            errors.append(exc)
    raise_collected(errors)
    return parsed

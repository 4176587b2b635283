"""Parse MedQuAD collection XML files (`<collection>/<document id>.xml`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medimind_assets.data.errors import RawDataError
from medimind_assets.data.xml_reader import check_children, line_of, parse_xml, text_of

# Upstream roots: <Document id=...>, and one CDC file uses <DiseaseFile fid=...>.
DOCUMENT_ROOTS = {"Document": "id", "DiseaseFile": "fid"}


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
    line: int | None = None

    @property
    def question_key(self) -> str:
        # Document ids collide across files (0000013_2.xml vs 0000013_2_1.xml): the file stem disambiguates.
        return f"{self.collection}/{self.file_stem}:{self.qid}"


def parse_medquad_file(path: Path) -> list[MedquadPair]:
    root = parse_xml(path)
    if root.tag not in DOCUMENT_ROOTS:
        raise RawDataError(path, f"root element is <{root.tag}>, expected <Document>", line_of(root))
    document_id = root.get(DOCUMENT_ROOTS[root.tag], path.stem)
    focus = text_of(root.find("Focus")).strip()
    pairs: list[MedquadPair] = []
    for qa_list in root.findall("QAPairs"):
        check_children(path, qa_list, {"QAPair"})
        for pair in qa_list:
            check_children(path, pair, {"Question", "Answer"})
            q_elem = pair.find("Question")
            if q_elem is None:
                raise RawDataError(path, "<QAPair> without a <Question>", line_of(pair))
            pairs.append(
                MedquadPair(
                    collection=path.parent.name,
                    document_id=document_id,
                    file_stem=path.stem,
                    qid=q_elem.get("qid", pair.get("pid", "")),
                    qtype=q_elem.get("qtype", ""),
                    question=text_of(q_elem),
                    answer=text_of(pair.find("Answer")),
                    focus=focus,
                    line=line_of(pair),
                )
            )
    return pairs


def collection_files(medquad_dir: Path) -> list[Path]:
    """Every `<collection>/*.xml`, sorted, so the dataset is built in the same order on every machine."""
    return sorted(p for p in medquad_dir.glob("*/*.xml") if p.is_file())

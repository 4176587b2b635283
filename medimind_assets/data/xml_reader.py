"""Strict XML reading that keeps line numbers, so errors can point at the offending line."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from xml.parsers import expat

from medimind_assets.data.errors import RawDataError


def read_utf8(path: Path) -> bytes:
    """Return the file's bytes after checking they are UTF-8 (what every upstream file declares)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RawDataError(path, "file not found") from None
    except OSError as exc:
        raise RawDataError(path, f"cannot be read: {exc.strerror}") from None
    if not data.strip():
        raise RawDataError(path, "file is empty")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problem = f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8"
        raise RawDataError(path, problem, line) from None
    return data


class LineElement(ET.Element):
    """An element that remembers the line it starts on."""

    sourceline: int | None = None


def parse_xml(path: Path) -> ET.Element:
    """Parse `path` into a tree of `LineElement`s (each with `.sourceline`)."""
    data = read_utf8(path)
    builder = ET.TreeBuilder(element_factory=LineElement)
    parser = expat.ParserCreate("utf-8")

    def start(tag: str, attrs: dict[str, str]) -> None:
        builder.start(tag, attrs).sourceline = parser.CurrentLineNumber

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
        root = builder.close()
    except expat.ExpatError as exc:
        message = expat.ErrorString(exc.code)
        raise RawDataError(
            path, f"malformed or truncated XML: {message} (column {exc.offset + 1})", exc.lineno
        ) from None
    except AssertionError:
        raise RawDataError(path, "malformed or truncated XML: unclosed elements") from None
    return root


def line_of(elem: ET.Element) -> int | None:
    return getattr(elem, "sourceline", None)


def text_of(elem: ET.Element | None) -> str:
    """All text inside an element (upstream answers are plain text, but be safe about nested markup)."""
    if elem is None:
        return ""
    return "".join(elem.itertext())


def check_children(path: Path, elem: ET.Element, allowed: set[str]) -> None:
    for child in elem:
        if child.tag not in allowed:
            raise RawDataError(
                path,
                f"unexpected element <{child.tag}> inside <{elem.tag}> (expected one of: {', '.join(sorted(allowed))})",
                line_of(child),
            )

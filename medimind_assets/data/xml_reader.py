"""Strict XML reading that keeps line numbers, so errors can point at the offending line."""

from __future__ import annotations

import codecs
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.parsers import expat

from medimind_assets.data.errors import RawDataError

DATA_SUFFIXES = frozenset({".xml", ".txt"})
_UNDECODED = re.compile("[\udc80-\udcff]")  # how Python keeps the bytes of a file name it cannot decode
# Block elements: their text is set apart from the text around them ("<p>a.</p><p>b</p>" reads "a.\nb").
_BLOCK_TAGS = frozenset("p div br li ul ol dl dt dd tr td th table h1 h2 h3 h4 h5 h6 section blockquote".split())


def data_files(folder: Path) -> list[Path]:
    """Every data file under `folder`, following symbolic links (a collection folder that is a link is read, and
    hashed: its edits change the data version), each real folder once. A folder that cannot be listed is an
    error, not a silently smaller dataset."""

    def unreadable(exc: OSError) -> None:
        raise RawDataError(Path(exc.filename or folder), f"cannot be read: {exc.strerror}")

    found, seen = [], set()
    for current, dirs, files in os.walk(folder, onerror=unreadable, followlinks=True):
        real = os.path.realpath(current)
        if real in seen:  # a link back up the tree
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in files:
            path = Path(current) / name
            data = path.suffix.lower() in DATA_SUFFIXES  # "0000027.XML", as some unzip tools write it
            if data and _UNDECODED.search(str(path)):  # bytes that are no text here: no row could name its origin
                shown = str(path).encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
                raise RawDataError(
                    shown, "its name is not text in the file system's encoding (UTF-8 here): rename the file"
                )
            # os.walk lists a dangling link as a file: one that would be read (a data file, or a collection folder
            # on a drive not mounted) is an error; an editor's lock file (".#0001.xml") is not.
            if path.is_symlink() and not path.exists() and not name.startswith(".") and (data or not path.suffix):
                raise RawDataError(path, f"is a link to {os.readlink(path)}, which does not exist")
            if data:
                found.append(path)
    return sorted(p for p in found if p.is_file())


# The encoding an XML declaration names: `<?xml version="1.0" encoding="ISO-8859-1"?>`.
_DECLARED = re.compile(rb"""\A\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")


def read_xml_bytes(path: Path) -> bytes:
    """The file's text as UTF-8 bytes, read in the encoding its byte-order mark or XML declaration names (UTF-8
    when it names none, as every upstream file is): a file saved as Latin-1 or UTF-16 that says so is read, one whose
    bytes are not what it declares is an error naming the byte and its line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RawDataError(path, "file not found") from None
    except OSError as exc:
        raise RawDataError(path, f"cannot be read: {exc.strerror}") from None
    if not data.strip():
        raise RawDataError(path, "file is empty")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "UTF-16"
    elif (declared := _DECLARED.match(data)) and not data.startswith(codecs.BOM_UTF8):
        encoding = declared.group(1).decode("ascii")
    else:
        encoding = "UTF-8"
    try:
        utf8 = codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        raise RawDataError(
            path, f"declares the encoding {encoding!r}, which is unknown; re-save it as UTF-8", 1
        ) from None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1 if not encoding.upper().startswith("UTF-16") else None
        problem = f"not valid {encoding} (byte 0x{data[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8"
        raise RawDataError(path, problem, line) from None
    return data if utf8 else text.encode("utf-8")


class LineElement(ET.Element):
    """An element that remembers the line it starts on."""

    sourceline: int | None = None


def parse_xml(path: Path) -> ET.Element:
    """Parse `path` into a tree of `LineElement`s (each with `.sourceline`)."""
    data = read_xml_bytes(path)  # expat is told it is UTF-8, whatever the declaration said
    builder = ET.TreeBuilder(element_factory=LineElement)
    parser = expat.ParserCreate("utf-8")

    def start(tag: str, attrs: dict[str, str]) -> None:
        builder.start(tag, attrs).sourceline = parser.CurrentLineNumber

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True

    def skipped(name: str, _is_parameter: bool) -> None:  # expat skips entities it cannot resolve in silence
        raise RawDataError(
            path, f"undefined entity &{name}; (the file declares a DTD that is not read)", parser.CurrentLineNumber
        )

    parser.SkippedEntityHandler = skipped

    def external(context: str | None, base: str | None, system_id: str | None, public_id: str | None) -> int:
        # Never fetched (a file that reads the disk or the network); expat would drop it from the text in silence.
        raise RawDataError(path, f"external entity {system_id or public_id!r} is not read", parser.CurrentLineNumber)

    parser.ExternalEntityRefHandler = external
    try:
        parser.Parse(data, True)
        return builder.close()
    except expat.ExpatError as exc:
        message = expat.ErrorString(exc.code)
        raise RawDataError(
            path, f"malformed or truncated XML: {message} (column {exc.offset + 1})", exc.lineno
        ) from None
    except AssertionError:
        raise RawDataError(path, "malformed or truncated XML: unclosed elements") from None


def line_of(elem: ET.Element) -> int | None:
    return getattr(elem, "sourceline", None)


def text_of(elem: ET.Element | None) -> str:
    """All text inside an element; upstream answers are plain text, but nested block markup keeps its breaks. Walked
    with a stack, not recursion: markup nested a thousand deep is text like any other."""
    if elem is None:
        return ""
    parts: list[str] = []
    stack: list[ET.Element | str] = [elem]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        parts.append(item.text or "")
        for child in reversed(item):  # pushed in reverse: popped in document order
            brk = "\n" if child.tag.lower() in _BLOCK_TAGS else ""
            stack += [child.tail or "", brk, child, brk]
    return "".join(parts)


def check_children(path: Path, elem: ET.Element, allowed: set[str], once: frozenset[str] = frozenset()) -> None:
    """Every child of `elem` is one of `allowed`; those in `once` appear at most once (a second answer text would
    otherwise be dropped without a word)."""
    first: dict[str, int | None] = {}
    for child in elem:
        if child.tag not in allowed:
            raise RawDataError(
                path,
                f"unexpected element <{child.tag}> inside <{elem.tag}> (expected one of: {', '.join(sorted(allowed))})",
                line_of(child),
            )
        if child.tag in once:
            refuse_repeat(path, f"<{child.tag}> inside <{elem.tag}>", first, child.tag, line_of(child))


def refuse_repeat(path: Path, what: str, lines: dict[str, int | None], key: str, line: int | None) -> None:
    """An id that keys rows must be unique in its file: a second one would merge two questions (or answers)."""
    if key in lines:
        raise RawDataError(path, f"{what} appears twice (first at line {lines[key]})", line)
    lines[key] = line

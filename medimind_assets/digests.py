"""Content digests, the one home for them: the sha256 of a file or a text, of the files of a folder, and of such a
set of files as one value. Every artefact's integrity record (adapter files, checkpoints, base and merged model
weights, raw sources) is made of these. Standard library only."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any

from medimind_assets.atomic import atomic_write_json

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_digests(folder: Path, names: Iterable[str] | None = None, cache_path: Path | None = None) -> dict[str, str]:
    """sha256 of each file of `folder` named in `names` (relative paths; every file when None), streaming.

    With `cache_path`, a hash is reused while the file's size, mtime, ctime and inode match the cached ones: that
    keeps re-resolving a multi-gigabyte base model cheap. The ctime is what a write followed by putting the old
    mtime back (`touch -d`, a restore keeping timestamps) cannot set back; only damage below the file system (bit
    rot) goes unseen, as it would by any check short of hashing every time.
    """
    folder = Path(folder)
    if names is None:
        names = (p.relative_to(folder).as_posix() for p in sorted(folder.rglob("*")) if p.is_file())
    cached: dict[str, Any] = {}
    if cache_path is not None and cache_path.is_file():
        with suppress(ValueError, AttributeError):  # damaged or not ours: every file hashed again
            cached = json.loads(cache_path.read_text(encoding="utf-8")).get("files", {})
    entries: dict[str, dict[str, Any]] = {}
    for name in names:
        stat = (folder / name).stat()
        key = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns, "inode": stat.st_ino}
        entry = cached.get(name)
        if not (entry and all(entry.get(k) == v for k, v in key.items())):
            entry = {**key, "sha256": sha256_file(folder / name)}
        entries[name] = entry
    if cache_path is not None and entries != cached:
        # A read-only data folder (a serving host's mount): the digests are right, only not remembered.
        with suppress(OSError):
            atomic_write_json(cache_path, {"files": entries})
    return {name: entry["sha256"] for name, entry in entries.items()}


def combined_hash(file_hashes: dict[str, str]) -> str:
    """One sha256 over (file name, file sha256) pairs: changes when any file is renamed or edited. The weight
    hash of every model folder (base or merged), so their hashes are comparable."""
    digest = hashlib.sha256()
    for name in sorted(file_hashes):
        digest.update(f"{name}\0{file_hashes[name]}\n".encode())
    return digest.hexdigest()

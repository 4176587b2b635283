"""Atomic artefact writes and content hashes, shared by every stage. Standard library only.

An artefact is written next to its final path under a temporary name and renamed into place, so a reader (or a
crash) never sees a half-written file, and a failed run leaves the previous artefact exactly as it was.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

CHUNK = 1 << 20
# A temporary file or folder this old beside its artefact was left by a killed write: removed on the next one.
STALE_AFTER_S = 3600
_OS_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
}


class ArtifactWriteError(OSError):
    """The operating system refused an artefact write; the message names the reason and the path."""


def describe_os_error(exc: OSError, path: Path | str) -> str:
    reason = _OS_REASONS.get(exc.errno or -1, exc.strerror or str(exc))
    return f"{reason} while writing {path}"


def _named(exc: OSError, final: Path) -> ArtifactWriteError:
    return ArtifactWriteError(exc.errno or 0, describe_os_error(exc, final))


def remove_stale_temporaries(final: Path, max_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove `.<name>.*.tmp` files and folders beside `final` left by writes that were killed."""
    removed = []
    if not final.parent.is_dir():
        return removed
    now = time.time()
    for path in final.parent.glob(f".{final.name}.*.tmp"):
        try:
            if now - path.stat().st_mtime < max_age_s:
                continue  # possibly a write in progress
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
        except OSError:
            continue
    return removed


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary file path beside `final`; on success it replaces `final`, on error it is removed.
    Operating-system failures come out as ArtifactWriteError naming the reason and `final`."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(final)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    except OSError as exc:
        raise _named(exc, final) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o644)  # mkstemp creates 0600; artefacts are meant to be read by others
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    except ArtifactWriteError:
        raise
    except OSError as exc:
        if exc.errno in _OS_REASONS:
            raise _named(exc, final) from exc
        raise
    finally:
        tmp_path.unlink(missing_ok=True)


def atomic_write_text(final: Path, text: str) -> None:
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(final: Path, payload: object) -> None:
    atomic_write_text(final, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_jsonl(final: Path, rows: Iterable[dict]) -> None:
    with atomic_path(final) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


@contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary directory beside `final`; on success it replaces `final` (old one removed after)."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(final)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    except OSError as exc:
        raise _named(exc, final) from exc
    os.chmod(tmp, 0o755)
    try:
        yield tmp
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except OSError as exc:
        if exc.errno in _OS_REASONS and not isinstance(exc, ArtifactWriteError):
            raise _named(exc, final) from exc
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]

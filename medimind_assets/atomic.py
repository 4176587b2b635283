"""Atomic artefact writes. Standard library only (content hashes: `digests.py`).

An artefact is written next to its final path under a temporary name, flushed to disk (fsync) and renamed into
place, so a reader (or a crash, or a power cut) never sees a half-written file, and a failed run leaves the
previous artefact exactly as it was. A folder replacing an older one is swapped in with a rollback: if the swap
fails half way, the old folder is put back. `directory_lock` serialises writers of one artefact across processes;
leftovers of killed writes are removed by the next writer (at once under the lock, otherwise after an hour).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from medimind_assets.errors import MediMindError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent writers of one artefact are then not serialised.
    fcntl = None  # type: ignore[assignment]

# A temporary file or folder this old beside its artefact was left by a killed write: removed on the next one.
STALE_AFTER_S = 3600
_OS_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
}


class ArtifactWriteError(MediMindError, OSError):
    """The operating system refused an artefact write; the message names the reason and the path."""


def describe_os_error(exc: OSError, path: Path | str) -> str:
    reason = _OS_REASONS.get(exc.errno or -1, exc.strerror or str(exc))
    return f"{reason} while writing {path}"


def _named(exc: OSError, final: Path) -> ArtifactWriteError:
    return ArtifactWriteError(exc.errno or 0, describe_os_error(exc, final))


def remove_stale_temporaries(final: Path, max_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove `.<name>.*.tmp` and `.<name>.old-*` files and folders beside `final` left by writes that were killed
    (`max_age_s=0` when the caller holds `directory_lock`: then nothing else can be writing)."""
    removed: list[Path] = []
    if not final.parent.is_dir():
        return removed
    now = time.time()
    leftovers = [*final.parent.glob(f".{final.name}.*.tmp"), *final.parent.glob(f".{final.name}.old-*")]
    for path in leftovers:
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


class LockHeld(MediMindError, BlockingIOError):
    """Another process holds the lock (raised instead of waiting when asked not to wait)."""


@contextmanager
def directory_lock(parent: Path, name: str, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive lock named `name` in `parent`: blocks while another process holds it, or with
    `wait=False` raises LockHeld naming the lock file. The kernel releases it when the holder dies."""
    parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    path = parent / f".{name}.lock"
    with path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise LockHeld(f"{path} is held by another process") from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _umask() -> int:
    """The process's umask, read without changing it where the system allows (/proc), else set and restored."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def readable_by_others(root: Path) -> None:
    """Give `root` (a file, or a folder and all it holds) the modes a plain write would have under the umask:
    temporary files and folders (ours, and those libraries such as safetensors write through) are created 0600
    or 0700, and a serving process running as another user could not read the weights."""
    mask = _umask()
    file_mode, dir_mode = 0o666 & ~mask, 0o777 & ~mask
    if root.is_file():
        os.chmod(root, file_mode)
        return
    os.chmod(root, dir_mode)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(Path(folder) / name, dir_mode)
        for name in files:
            os.chmod(Path(folder) / name, file_mode)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


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
    try:
        yield tmp_path
        readable_by_others(tmp_path)  # mkstemp creates 0600; artefacts are meant to be read by others
        _fsync(tmp_path)
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
def atomic_directory(final: Path, locked: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside `final`; on success it replaces `final` (the old one is removed after,
    or put back if the swap fails). `locked`: the caller holds `directory_lock` for `final`, so any leftover of an
    earlier write is known to be stale and is removed at once."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(final, 0 if locked else STALE_AFTER_S)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    except OSError as exc:
        raise _named(exc, final) from exc
    try:
        yield tmp
        readable_by_others(tmp)
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
            os.rmdir(old)
            os.replace(final, old)
            try:
                os.replace(tmp, final)
            except BaseException:
                os.replace(old, final)
                raise
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

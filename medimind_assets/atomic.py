"""Atomic artefact writes (docs/operations.md, "Integrity"). Standard library only (content hashes: `digests.py`).

An artefact is written beside its final path under a temporary name, flushed to disk and renamed into place, so a
reader (or a crash, or a power cut) never sees a half-written file, and a failed run leaves the previous artefact
exactly as it was. A folder replacing an older one is put back if the swap fails half way. `directory_lock`
serialises writers of one artefact across processes.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
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
_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)|\bOs \{ code: (\d+)")


class ArtifactWriteError(MediMindError, OSError):
    """The operating system refused an artefact write; the message names the reason and the path."""


def describe_os_error(exc: OSError, path: Path | str) -> str:
    reason = _OS_REASONS.get(exc.errno or -1, exc.strerror or str(exc))
    return f"{reason} while writing {path}"


def naming_the_os_error(exc: BaseException, path: Path | str) -> ArtifactWriteError | None:
    """The operating system's refusal (a full disk, a read-only folder) inside `exc`'s chain of causes, as an
    ArtifactWriteError naming `path`: a library that wraps it ("An error occurred while generating the dataset")
    still says what went wrong; None when there is none."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _OS_REASONS:
            return ArtifactWriteError(exc.errno, describe_os_error(exc, path))
        exc = exc.__cause__ or exc.__context__
    return None


@contextmanager
def _naming_os_errors(final: Path, every: bool = False) -> Iterator[None]:
    """OSErrors as ArtifactWriteError naming the reason and `final`: `every` one, or only those `_OS_REASONS` names
    (others, such as a FileNotFoundError of the caller's own code inside the block, pass unchanged)."""
    try:
        yield
    except ArtifactWriteError:
        raise
    except Exception as exc:
        error = exc  # safetensors' writer (Rust) raises no OSError: "... No space left on device (os error 28)"
        if not isinstance(exc, OSError) and (found := _RUST_OS_ERROR.search(str(exc))):
            error = OSError(int(found.group(1) or found.group(2)), str(exc))
        if isinstance(error, OSError) and (error.errno in _OS_REASONS or (every and error is exc)):
            raise ArtifactWriteError(error.errno or 0, describe_os_error(error, final)) from exc
        raise


def restore_interrupted_swap(final: Path) -> bool:
    """A writer killed between a folder swap's two renames leaves `final` missing and its last version aside as
    `.<name>.old-*`: that version is put back (the newest, if several), under the folder's lock as the swap itself
    takes it, so a swap in progress is never undone. Whether one was put back."""
    if final.exists() or final.is_symlink() or not final.parent.is_dir():
        return False
    with _folder_held(final.parent):
        if final.exists() or final.is_symlink():
            return False
        aside = [p for p in final.parent.glob(f".{final.name}.old-*") if p.is_dir() and not p.is_symlink()]
        if aside:
            os.replace(max(aside, key=lambda p: p.stat().st_mtime), final)
        return bool(aside)


def remove_stale_temporaries(final: Path, max_age_s: float = STALE_AFTER_S) -> None:
    """Remove `.<name>.*.tmp` and `.<name>.old-*` files and folders beside `final` left by writes that were killed
    (`max_age_s=0` when the caller holds `directory_lock`: then nothing else can be writing), once a version a
    killed swap left aside is back in place."""
    with suppress(OSError):
        restore_interrupted_swap(final)
    now = time.time()
    for path in [*final.parent.glob(f".{final.name}.*.tmp"), *final.parent.glob(f".{final.name}.old-*")]:
        with suppress(OSError):
            if now - path.stat().st_mtime >= max_age_s:  # younger: possibly a write in progress
                _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class LockHeld(MediMindError, BlockingIOError):
    """Another process holds the lock (raised instead of waiting when asked not to wait)."""


class LockUnavailable(MediMindError, OSError):
    """The lock file cannot be created (a read-only or full data folder): the message names it and why."""


def lock_file(parent: Path, name: str) -> Path:
    return Path(parent) / f".{name}.lock"


def lock_held(parent: Path, name: str) -> bool | None:
    """Whether a process holds the lock `name` now (None: no lock file). Opens it read-only, never creates it: a
    status report may run where nothing can be written. A lock that cannot be opened counts as held."""
    path = lock_file(parent, name)
    if fcntl is None or not path.is_file():
        return None
    try:
        with path.open("rb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
    except OSError:  # BlockingIOError (held) among them
        return True


# Without waiting, a lock is still tried for this long: `lock_held` (a status report, retention) holds it for an
# instant to look, which must not make a training or an evaluation that starts then refuse to run.
LOCK_PATIENCE_S = 1.0


@contextmanager
def directory_lock(parent: Path, name: str, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive lock named `name` in `parent`: blocks while another process holds it, or with
    `wait=False` raises LockHeld naming the lock file. The kernel releases it when the holder dies."""
    path = lock_file(parent, name)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a") if fcntl is not None else None
    except OSError as exc:
        where = exc.filename or path  # the folder that could not be made (a file in its place), or the lock
        raise LockUnavailable(exc.errno, f"cannot take the lock {path}: {describe_os_error(exc, where)}") from None
    if handle is None:
        yield
        return
    with handle:
        deadline = time.monotonic() + LOCK_PATIENCE_S
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockHeld(f"{path} is held by another process") from None
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _umask() -> int:
    """The process's umask, read without changing it where the system allows (/proc), else set and restored."""
    with suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def readable_by_others(root: Path) -> None:
    """Give `root` (a file, or a folder and all it holds) the modes a plain write would have under the umask:
    temporary files and folders (ours, and those libraries such as safetensors write through) are created 0600
    or 0700, and a serving process running as another user could not read the weights."""
    mask = _umask()
    for path in [root, *root.rglob("*")]:
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~mask)


@contextmanager
def _replacing(final: Path, max_age_s: float, directory: bool) -> Iterator[Path]:
    """A temporary file or folder beside `final`, made once the leftovers of killed writes are gone: on success it
    replaces `final`, on error it is removed. Operating-system failures come out as ArtifactWriteError naming the
    reason and `final`."""
    with _naming_os_errors(final, every=True):
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(final, max_age_s)
        if directory:
            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
        else:
            fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
            os.close(fd)
            tmp = Path(name)
    try:
        with _naming_os_errors(final):
            yield tmp
            readable_by_others(tmp)  # mkstemp and mkdtemp create 0600 and 0700; artefacts are meant to be read
            if directory:
                with _folder_held(final.parent):
                    _swap(tmp, final)
            else:
                with open(tmp, "rb") as handle:
                    os.fsync(handle.fileno())
                os.replace(tmp, final)
    finally:
        _remove(tmp)


def atomic_path(final: Path) -> AbstractContextManager[Path]:
    """A temporary file path beside `final` that replaces it when the block succeeds (`_replacing`)."""
    return _replacing(final, STALE_AFTER_S, directory=False)


def atomic_write_text(final: Path, text: str) -> None:
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(final: Path, payload: object) -> None:
    atomic_write_text(final, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_jsonl(final: Path, rows: Iterable[dict]) -> None:
    with atomic_path(final) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def atomic_directory(final: Path, locked: bool = False) -> AbstractContextManager[Path]:
    """A temporary directory beside `final` that replaces it when the block succeeds (the old one is removed after,
    or put back if the swap fails). `locked`: the caller holds `directory_lock` for `final`, so any leftover of an
    earlier write is known to be stale and is removed at once. Writers swap in turn (`_folder_held`), so two of one
    folder (a retry beside an automated run) each replace it whole instead of one failing mid-swap."""
    return _replacing(final, 0 if locked else STALE_AFTER_S, directory=True)


@contextmanager
def _folder_held(folder: Path) -> Iterator[None]:
    """An exclusive lock on the folder itself, for a swap's two renames (no lock file left among the artefacts)."""
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _swap(tmp: Path, final: Path) -> None:
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

"""Atomic writes: a file or a model directory appears complete or not at all.

Builds go to a hidden temporary sibling that is renamed into place, so a crash or an exception never leaves a
half-written model where a finished one is expected. A per-slug lock serialises concurrent builds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent builds of one model are then not serialised.
    fcntl = None  # type: ignore[assignment]


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write `data` as indented JSON to `path` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@contextlib.contextmanager
def directory_lock(parent: Path, name: str) -> Iterator[None]:
    """Hold an exclusive lock named `name` in `parent` (blocks while another process holds it)."""
    parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    with (parent / f".{name}.lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _scratch_dirs(target: Path) -> list[Path]:
    return [
        p
        for pattern in (f".{target.name}.tmp-*", f".{target.name}.old-*")
        for p in target.parent.glob(pattern)
        if p.is_dir()
    ]


def build_directory_atomically(target: Path, build: Callable[[Path], None]) -> Path:
    """Run `build(tmp_dir)` and rename the result to `target`, replacing any previous `target`.

    Call it while holding `directory_lock(target.parent, target.name)`: leftovers of builds that were killed
    are then known to be stale and are removed first.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in _scratch_dirs(target):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        build(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            target.rename(old)
            try:
                tmp.rename(target)
            except BaseException:
                old.rename(target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target

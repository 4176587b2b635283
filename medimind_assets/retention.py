"""What the data folder keeps: everything still in use, the last few of everything else, nothing more (the rules:
docs/operations.md, "Retention"). Applied after each promotion (`evaluation`), reported in its metadata. Standard
library only.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from medimind_assets.atomic import lock_file, lock_held, restore_interrupted_swap
from medimind_assets.digests import sha256_file
from medimind_assets.store import TRAINING_SUMMARY, ArtifactStore, PointerError

DEFAULT_KEEP_ADAPTERS = 3
_HASH = re.compile(r"[0-9a-f]{64}")
QUIET_S = 24 * 3600  # untouched this long: no process is writing it


@dataclass
class RetentionReport:
    kept: list[str] = field(default_factory=list)  # adapter fingerprints kept
    removed: list[str] = field(default_factory=list)  # paths removed, relative to the data folder
    bytes_freed: int = 0
    skipped: str | None = None  # why nothing was removed

    def as_dict(self) -> dict:
        report = {"kept_adapters": self.kept, "removed": self.removed, "bytes_freed": self.bytes_freed}
        return {**report, "skipped": self.skipped} if self.skipped else report


def _mtimes_and_sizes(path: Path) -> list[tuple[float, int]]:
    """(mtime, size) of `path` and every file under it; what vanishes meanwhile (a training rotating its
    checkpoints) is skipped."""
    found = []
    for entry in [path, *path.rglob("*")]:
        try:
            stat = entry.stat()
        except FileNotFoundError:
            continue
        found.append((stat.st_mtime, stat.st_size if entry.is_file() else 0))
    return found


def _summary(adapter_dir: Path) -> dict:
    try:
        return json.loads((adapter_dir / TRAINING_SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _trained_at(adapter_dir: Path) -> tuple[str, float]:
    """Sort key: when the adapter was written (its summary's `created_at`, else the folder's time)."""
    return str(_summary(adapter_dir).get("created_at") or ""), adapter_dir.stat().st_mtime


def _pipelines(name: str) -> bool:
    """A name the pipeline writes: a fingerprint or a content hash (64 hex digits). Anything else in its folders is
    an operator's ("export-for-vllm/", "hand-curated.jsonl", "<fingerprint>.bak/") and never removed."""
    return _HASH.fullmatch(name) is not None


def _entries(area: Path) -> list[Path]:
    return sorted(area.iterdir()) if area.is_dir() else []


def _folders(area: Path) -> list[Path]:
    """The artefact folders of `area` (adapters/, checkpoints/...), by name: fingerprints only; temporaries
    (`.name.*`), an operator's own folders and links (to something kept elsewhere: never followed, never removed)
    left out."""
    return [p for p in _entries(area) if p.is_dir() and not p.is_symlink() and _pipelines(p.name)]


def adapters_in_use(store: ArtifactStore, keep_adapters: int, prune_leases: bool = True) -> list[str]:
    """The fingerprints kept: promoted, newest, served by a running server, and the `keep_adapters` most recent
    others. `prune_leases` off (a dry run) leaves the leases of servers gone where they are."""
    if keep_adapters < 0:
        raise ValueError(f"keep_adapters must be >= 0, got {keep_adapters}")
    # A pointer that exists but cannot be read raises PointerError: what it protects is unknown, so nothing may go.
    pinned = [str(payload["fingerprint"]) for payload in (store.read_promoted(), store.read_latest()) if payload]
    # Compared resolved: `adapters/` may be a link to another volume, and a lease names the folder it resolves to.
    adapters = store.adapters.resolve()
    pinned += sorted(path.name for path in store.leased_adapters(prune_leases) if path.resolve().parent == adapters)
    finished = sorted(_folders(store.adapters), key=_trained_at, reverse=True)
    recent = [p.name for p in finished if p.name not in pinned]
    return list(dict.fromkeys([*pinned, *recent[:keep_adapters]]))


def _stale(path: Path, quiet_seconds: float = QUIET_S) -> bool:
    """Nothing written under `path` for a day: no training or write is using it."""
    times = [mtime for mtime, _ in _mtimes_and_sizes(path)]
    return bool(times) and time.time() - max(times) > quiet_seconds


def _leftovers(area: Path) -> list[Path]:
    """Temporaries of killed writes in `area` (`atomic.py` names them `.<name>.*.tmp` and `.<name>.old-*`)."""
    return [p for p in _entries(area) if p.name.startswith(".") and (p.name.endswith(".tmp") or ".old-" in p.name)]


def _set_aside_from(leftover: Path) -> Path | None:
    """The folder a swap's `.<name>.old-*` was the last version of (None for other leftovers)."""
    if ".old-" not in leftover.name:
        return None
    return leftover.parent / leftover.name[1 : leftover.name.index(".old-")]


def _locks(area: Path) -> list[str]:
    """The names of the locks in `area` (`.<name>.lock`, `atomic.lock_file`)."""
    return [lock.name[1 : -len(".lock")] for lock in sorted(area.glob(".*.lock"))] if area.is_dir() else []


def apply_retention(
    store: ArtifactStore, keep_adapters: int = DEFAULT_KEEP_ADAPTERS, dry_run: bool = False
) -> RetentionReport:
    """Remove what is not kept (module docstring); the report says what went and how many bytes it freed (with
    `dry_run`, what would go: nothing is removed). With a pointer that cannot be read, nothing is removed and the
    report says why."""
    areas = (store.adapters, store.evaluations, store.merged, store.checkpoints, store.datasets)
    if not dry_run:  # first the last versions a killed swap left aside: they are in use, never leftovers
        for final in (_set_aside_from(path) for area in areas for path in _leftovers(area)):
            if final is not None:
                with suppress(OSError):
                    restore_interrupted_swap(final)
    try:
        report = RetentionReport(kept=adapters_in_use(store, keep_adapters, prune_leases=not dry_run))
    except PointerError as exc:
        return RetentionReport(skipped=f"{exc}; nothing removed until it can be read")
    kept = set(report.kept)
    removed: set[Path] = set()  # also in a dry run, where they stay

    def remove(path: Path) -> None:
        report.bytes_freed += sum(size for _, size in _mtimes_and_sizes(path))
        if not dry_run:
            with suppress(FileNotFoundError):  # gone meanwhile (another retention)
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        report.removed.append(path.relative_to(store.root).as_posix())
        removed.add(path)

    for leftover in (path for area in areas for path in _leftovers(area)):
        if (final := _set_aside_from(leftover)) is not None and not final.exists():
            continue  # to be put back (a dry run), never removed
        if _stale(leftover):  # a day untouched: the write that made it was killed
            remove(leftover)
    for area in (store.adapters, store.evaluations, store.merged):
        for folder in _folders(area):
            if folder.name not in kept:
                remove(folder)
    # A training in progress has no adapter yet: only the leftovers of removed adapters go. A training holds its
    # fingerprint's lock (a long first step can leave its folder quiet for a day); a lock that cannot be opened (a
    # read-only data folder) counts as held: nothing of it goes.
    training = {name for name in _locks(store.checkpoints) if lock_held(store.checkpoints, name) is True}
    for folder in _folders(store.checkpoints):
        adapter = store.adapters / folder.name
        if folder.name not in kept | training and not (adapter.exists() and adapter not in removed) and _stale(folder):
            remove(folder)
    # Locks of trainings and evaluations (`.<fingerprint>.lock`) outlive them: those of adapters no longer kept go,
    # unless a process holds one now.
    for area in (store.checkpoints, store.evaluations):
        for name in _locks(area):
            gone = not (area / name).exists() or area / name in removed
            if _pipelines(name) and name not in kept | training and gone and lock_held(area, name) is False:
                remove(lock_file(area, name))
    if training:  # a training reads a dataset version no adapter records yet: every version stays
        return report
    trained_on = [(_summary(store.adapters / fp).get("dataset") or {}).get("data_version") for fp in kept]
    versions = {str(version) for version in trained_on if version}
    if store.dataset.is_file():
        versions.add(sha256_file(store.dataset))
    for path in _entries(store.datasets):
        if path.suffix == ".jsonl" and path.stem not in versions and not path.is_symlink() and _pipelines(path.stem):
            remove(path)  # an operator's file stays
    return report

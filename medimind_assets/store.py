"""The artefact store: the layout under MEDIMIND_DATA_DIR (README.md, "Where outputs land") and its pointer files,
in one place. Standard library only.

Pointer files (`latest.json`, `current.json`, `base_model.json`) store paths relative to the root when the target
lives under it, and are resolved against the root they are read from: a data folder copied, moved or mounted
elsewhere (a serving host) keeps pointing at its own artefacts. A model outside the root (a Hugging Face cache)
keeps its absolute path. Every write is atomic (`medimind_assets.atomic`).
"""

from __future__ import annotations

import json
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medimind_assets.atomic import atomic_path, atomic_write_json
from medimind_assets.digests import sha256_file
from medimind_assets.errors import MediMindError
from medimind_assets.orphans import process_alive

DEFAULT_DATA_DIR = "data"
BASE_MODEL = "base_model.json"
TRAINING_SUMMARY = "training_summary.json"
EVALUATION_REPORT = "evaluation.json"  # in evaluations/<fingerprint>/
MERGE_INFO = "merge_info.json"  # in merged/<fingerprint>/, beside the merged weights
# What shapes a merged model's answers besides its weights: recorded by the merge, checked before it is served.
SHAPING_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
)


class PointerError(MediMindError, ValueError):
    """A pointer file that exists but cannot be used; the message names it and what to do."""


class DatasetVersionError(MediMindError, ValueError):
    """A dataset version that cannot be kept or read back as the bytes its name promises."""


def _under_root(*parts: str) -> property:
    return property(lambda store: store.root.joinpath(*parts))


@dataclass(frozen=True)
class ArtifactStore:
    root: Path

    def __post_init__(self) -> None:
        # Resolved once: pointers store paths relative to it, which a relative or symlinked root would defeat.
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())

    @classmethod
    def at(cls, data_dir: str | Path) -> ArtifactStore:
        return cls(Path(data_dir))

    dataset = _under_root("dataset.jsonl")
    datasets = _under_root("datasets")
    models = _under_root("models")
    checkpoints = _under_root("checkpoints")
    adapters = _under_root("adapters")
    evaluations = _under_root("evaluations")
    merged = _under_root("merged")
    cache = _under_root("cache")  # tokenised splits and preference pairs, rebuilt on demand
    leases = _under_root("serving")  # `<host>-<pid>.json` of each running server: the adapter it serves
    latest_pointer = _under_root("adapters", "latest.json")
    current_pointer = _under_root("adapters", "current.json")
    base_model_pointer = _under_root("models", BASE_MODEL)

    def dataset_version(self, version: str) -> Path:
        """Where the dataset of data version `version` (its sha256) is kept."""
        return self.datasets / f"{version}.jsonl"

    def keep_dataset_version(self, version: str) -> Path:
        """Keep the published `dataset.jsonl` (whose sha256 is `version`) under its content hash, so the version an
        adapter was trained on still exists after the next build replaces `dataset.jsonl`. A copy, not a hard link:
        an edit of `dataset.jsonl` in place must not change a kept version. A kept file is trusted only while its
        content still has its name's hash; one that does not (a torn copy, an edit) is replaced from `dataset.jsonl`
        when that is still the version, else refused."""
        kept = self.dataset_version(version)
        if kept.is_file() and sha256_file(kept) == version:
            return kept
        with atomic_path(kept) as tmp:
            try:
                shutil.copyfile(self.dataset, tmp)
            except FileNotFoundError:
                raise DatasetVersionError(f"{self.dataset} does not exist; materialize dataset first") from None
            if sha256_file(tmp) != version:
                problem = "is damaged and " if kept.exists() else ""
                raise DatasetVersionError(
                    f"{kept} {problem}cannot be made again: {self.dataset} is no longer dataset version "
                    f"{version[:12]} (rebuilt or edited since); materialize dataset again"
                )
        return kept

    def relative(self, path: str | Path) -> str:
        """`path` relative to the root when it lives under it, else absolute: how pointers store paths."""
        absolute = Path(path).expanduser().resolve()
        try:
            return absolute.relative_to(self.root).as_posix()
        except ValueError:
            return str(absolute)

    def resolve(self, raw: str | Path) -> Path:
        """A path read from a pointer: relative ones are under this root."""
        path = Path(raw).expanduser()
        return path if path.is_absolute() else self.root / path

    def _lease(self, pid: int) -> Path:
        # Named by host and pid: replicas in containers are all pid 1 on one shared volume.
        host = "".join(c if c.isalnum() or c in "-_." else "_" for c in socket.gethostname())
        return self.leases / f"{host}-{pid}.json"

    def write_lease(self, pid: int, adapter_dir: str | Path | None) -> None:
        """Record that server `pid` serves `adapter_dir` (None: the base model alone), so retention keeps it."""
        path = self.relative(adapter_dir) if adapter_dir else None
        atomic_write_json(self._lease(pid), {"pid": pid, "host": socket.gethostname(), "path": path})

    def remove_lease(self, pid: int) -> None:
        self._lease(pid).unlink(missing_ok=True)

    def leased_adapters(self, prune: bool = True) -> set[Path]:
        """The adapter folders servers still running serve; a lease whose process is gone from this host is removed
        (unless `prune` is off: a dry run, a read-only data folder). A lease from another host (a shared volume)
        cannot be checked and stays until its server removes it."""
        leased = set()
        for lease in sorted(self.leases.glob("*.json")) if self.leases.is_dir() else []:
            try:
                payload = json.loads(lease.read_text(encoding="utf-8"))
                pid = int(payload["pid"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # being written, or damaged: it protects nothing it can name
            if payload.get("host") in (None, socket.gethostname()) and not process_alive(pid):
                if prune:
                    lease.unlink(missing_ok=True)
            elif payload.get("path"):
                leased.add(self.resolve(payload["path"]))
        return leased

    # The three pointers. Readers return None when the file does not exist and raise PointerError (naming the file
    # and the asset that writes it) when it cannot be used; `path` comes back resolved against this root.

    def read_latest(self) -> dict[str, Any] | None:
        """The newest finished adapter (`adapters/latest.json`), written by training."""
        return self._read(self.latest_pointer, "lora_adapter", ("fingerprint", "path"))

    def write_latest(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._write(self.latest_pointer, payload, ("path",))

    def read_promoted(self) -> dict[str, Any] | None:
        """The promoted adapter's record (`adapters/current.json`), written by evaluation when the gate passes."""
        return self._read(self.current_pointer, "evaluation", ("fingerprint", "path"))

    def write_promoted(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._write(self.current_pointer, payload, ("path", "evaluation_path"))

    def read_base_model(self) -> dict[str, Any] | None:
        """The current base model's manifest (`models/base_model.json`)."""
        return self._read(self.base_model_pointer, "base_model", ("name", "path"))

    def write_base_model(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return self._write(self.base_model_pointer, manifest, ("path",))

    def _write(self, pointer: Path, payload: dict[str, Any], path_keys: tuple[str, ...]) -> dict[str, Any]:
        stored = dict(payload)
        for key in path_keys:
            if stored.get(key):
                stored[key] = self.relative(stored[key])
        atomic_write_json(pointer, stored)
        return stored

    def _read(self, pointer: Path, asset: str, required: tuple[str, ...]) -> dict[str, Any] | None:
        if not pointer.exists() and not pointer.is_symlink():
            return None
        if not pointer.is_file():  # a folder in its place, a dangling link: unreadable, not absent
            raise PointerError(f"{pointer}: not a file; remove it and materialize {asset} again")
        try:
            payload = json.loads(pointer.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise PointerError(f"{pointer}: not valid JSON ({exc}); materialize {asset} again") from None
        except OSError as exc:
            raise PointerError(f"{pointer}: cannot be read ({exc.strerror})") from None
        missing = ", ".join(
            repr(key)
            for key in required
            if not isinstance(payload, dict) or not isinstance(payload.get(key), str) or not payload[key].strip()
        )
        if missing:
            raise PointerError(f"{pointer}: expected a JSON object with {missing} as text; materialize {asset} again")
        if payload.get("path"):
            payload["path"] = str(self.resolve(payload["path"]))
        return payload

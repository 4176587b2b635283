"""The artefact store: the layout under MEDIMIND_DATA_DIR and its pointer files, in one place. Standard library only.

```
<root>/dataset.jsonl
<root>/datasets/<sha256>.jsonl   every published dataset version still in use, by content (retention.py)
<root>/models/<name>/            base models built or converted here (+ base_model.json: the current one)
<root>/checkpoints/<fingerprint>/checkpoint-<step>/
<root>/adapters/<fingerprint>/   finished adapters (+ latest.json: the newest; current.json: the promoted one)
<root>/evaluations/<fingerprint>/
<root>/merged/<fingerprint>/
```

Pointer files (`latest.json`, `current.json`, `base_model.json`) store paths relative to the root when the target
lives under it, and are resolved against the root they are read from: a data folder copied, moved or mounted
elsewhere (a serving host) keeps pointing at its own artefacts. A model outside the root (a Hugging Face cache)
keeps its absolute path. Every write is atomic (`medimind_assets.atomic`).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medimind_assets.atomic import atomic_write_json
from medimind_assets.errors import MediMindError

DEFAULT_DATA_DIR = "data"
DATASET_FILE = "dataset.jsonl"
LATEST = "latest.json"
CURRENT = "current.json"
BASE_MODEL = "base_model.json"
TRAINING_SUMMARY = "training_summary.json"
EVALUATION_REPORT = "evaluation.json"  # in evaluations/<fingerprint>/


class PointerError(MediMindError, ValueError):
    """A pointer file that exists but cannot be used; the message names it and what to do."""


@dataclass(frozen=True)
class ArtifactStore:
    root: Path

    @classmethod
    def at(cls, data_dir: str | Path) -> ArtifactStore:
        return cls(Path(data_dir).expanduser().resolve())

    @property
    def dataset(self) -> Path:
        return self.root / DATASET_FILE

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    def dataset_version(self, version: str) -> Path:
        """Where the dataset of data version `version` (its sha256) is kept."""
        return self.datasets / f"{version}.jsonl"

    def keep_dataset_version(self, version: str) -> Path:
        """Keep the published `dataset.jsonl` (whose sha256 is `version`) under its content hash, so the version an
        adapter was trained on still exists after the next build replaces `dataset.jsonl`. A copy, not a hard link:
        an edit of `dataset.jsonl` in place must not change a kept version."""
        kept = self.dataset_version(version)
        if kept.is_file():
            return kept
        self.datasets.mkdir(parents=True, exist_ok=True)
        tmp = kept.with_name(f".{kept.name}.{os.getpid()}.tmp")
        shutil.copyfile(self.dataset, tmp)
        os.replace(tmp, kept)
        return kept

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def adapters(self) -> Path:
        return self.root / "adapters"

    @property
    def evaluations(self) -> Path:
        return self.root / "evaluations"

    @property
    def merged(self) -> Path:
        return self.root / "merged"

    @property
    def latest_pointer(self) -> Path:
        return self.adapters / LATEST

    @property
    def current_pointer(self) -> Path:
        return self.adapters / CURRENT

    @property
    def base_model_pointer(self) -> Path:
        return self.models / BASE_MODEL


def root_of(pointer: Path) -> Path:
    """The data root a pointer file belongs to (`<root>/<area>/<pointer>.json`)."""
    return Path(pointer).resolve().parent.parent


def relative_to_root(path: str | Path, root: Path) -> str:
    """`path` relative to `root` when it lives under it, else absolute."""
    absolute = Path(path).expanduser().resolve()
    try:
        return absolute.relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(absolute)


def resolve_from_root(raw: str | Path, root: Path) -> Path:
    path = Path(raw).expanduser()
    return path if path.is_absolute() else Path(root) / path


def write_pointer(pointer: Path, payload: dict[str, Any], path_keys: tuple[str, ...] = ("path",)) -> dict:
    """Write `payload` atomically to `pointer`, its `path_keys` made relative to the pointer's data root."""
    root = root_of(pointer)
    stored = dict(payload)
    for key in path_keys:
        if stored.get(key):
            stored[key] = relative_to_root(stored[key], root)
    atomic_write_json(pointer, stored)
    return stored


def read_pointer(pointer: Path, what: str, required: tuple[str, ...] = ("path",)) -> dict[str, Any] | None:
    """The pointer's JSON object with its `path` resolved against its data root; None when the file does not
    exist; PointerError naming the file when it is not a JSON object with the `required` keys."""
    pointer = Path(pointer)
    if not pointer.is_file():
        return None
    try:
        payload = json.loads(pointer.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise PointerError(f"{pointer}: not valid JSON ({exc}); materialize {what} again") from None
    except OSError as exc:
        raise PointerError(f"{pointer}: cannot be read ({exc.strerror})") from None
    missing = [key for key in required if not isinstance(payload, dict) or not payload.get(key)]
    if missing:
        raise PointerError(
            f"{pointer}: expected a JSON object with {', '.join(map(repr, missing))}; materialize {what} again"
        )
    if payload.get("path"):
        payload["path"] = str(resolve_from_root(payload["path"], root_of(pointer)))
    return payload

"""Artefacts that carry their own integrity, and the checks every consumer runs before using one (docs/operations.md,
"Integrity"): a truncated or edited adapter file is one clear error naming it, never a traceback from deep inside a
loader or, worse, a silently different model. Standard library only.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from medimind_assets.digests import sha256_file
from medimind_assets.errors import MediMindError
from medimind_assets.store import TRAINING_SUMMARY

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
SIGNED_ADAPTER_FILES = (ADAPTER_CONFIG, ADAPTER_WEIGHTS)


class IntegrityError(MediMindError, ValueError):
    """An artefact whose content is not what was recorded, or not readable as what it claims to be."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {problem}")


def verify_digests(folder: Path, digests: dict[str, str], what: str) -> None:
    """Every file named in `digests` is present with that sha256."""
    for name, expected in sorted(digests.items()):
        path = Path(folder) / name
        if not path.is_file():
            raise IntegrityError(path, f"missing from the {what}")
        if (actual := sha256_file(path)) != expected:
            raise IntegrityError(path, f"sha256 {actual[:12]} differs from the {expected[:12]} recorded for the {what}")


def check_safetensors(path: Path) -> None:
    """The file is a complete safetensors file: an 8-byte header length, a JSON header, then exactly the data
    the header describes."""
    path = Path(path)
    if not path.is_file():
        raise IntegrityError(path, "does not exist")
    size = path.stat().st_size
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise IntegrityError(path, f"truncated: {size} bytes, not a safetensors file")
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len > size - 8:
            raise IntegrityError(path, f"truncated: header says {header_len} bytes, the file has {size}")
        try:
            header = json.loads(handle.read(header_len))
        except ValueError:
            raise IntegrityError(path, "corrupt safetensors header") from None
    ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    expected = 8 + header_len + max(ends, default=0)
    if size != expected:
        raise IntegrityError(path, f"truncated or padded: {size} bytes, its header describes {expected}")


def read_json_object(path: Path, fix: str = "") -> dict:
    """The JSON object in `path`; IntegrityError naming the file when it is not one (`fix`: what to do then)."""
    then = f"; {fix}" if fix else ""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError:
        raise IntegrityError(path, f"is not valid JSON{then}") from None
    if not isinstance(data, dict):
        raise IntegrityError(path, f"is not a JSON object{then}")
    return data


def read_summary(adapter_dir: Path) -> dict:
    path = Path(adapter_dir) / TRAINING_SUMMARY
    return read_json_object(path) if path.is_file() else {}


def verify_adapter(adapter_dir: Path) -> dict:
    """Check an adapter folder before use; returns its training summary ({} for an adapter without one)."""
    adapter_dir = Path(adapter_dir)
    config = adapter_dir / ADAPTER_CONFIG
    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
    except ValueError:
        raise IntegrityError(config, "is not valid JSON") from None
    if not isinstance(settings, dict) or settings.get("peft_type") != "LORA":
        raise IntegrityError(config, 'is not a LoRA adapter config (expected a JSON object with "peft_type": "LORA")')
    check_safetensors(adapter_dir / ADAPTER_WEIGHTS)
    summary = read_summary(adapter_dir)
    digests = summary.get("files")
    if isinstance(digests, dict):
        verify_digests(adapter_dir, digests, "adapter")
    return summary

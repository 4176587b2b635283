"""Model and adapter folders, checked before anything loads them (no torch here).

A base or merged model folder needs `config.json`, complete safetensors weights and a tokenizer; an adapter folder
needs `adapter_config.json` and `adapter_model.safetensors` whose sha256 matches what training recorded
(`medimind_assets.integrity.verify_adapter`). Pickled weights can run code when loaded: they are refused, never
read. Anything missing raises `ArtifactMissingError` with a one-line reason.
"""

from __future__ import annotations

from pathlib import Path

from medimind_assets.errors import MediMindError
from medimind_assets.integrity import ADAPTER_CONFIG, ADAPTER_WEIGHTS, check_safetensors, verify_adapter

PICKLE_PATTERNS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")  # fast, sentencepiece, BPE vocabulary


class ArtifactMissingError(MediMindError, FileNotFoundError):
    """A model, adapter or pointer file that should exist does not. The message says what and where."""


def require_model_dir(path: Path, what: str) -> Path:
    path = Path(path)
    if not (path / "config.json").is_file():
        raise ArtifactMissingError(f"{what} not found: {path} has no config.json")
    if not any(path.glob("*.safetensors")):
        pickles = sorted(p.name for pattern in PICKLE_PATTERNS for p in path.glob(pattern))
        if pickles:
            raise ArtifactMissingError(
                f"{what} in {path} holds only pickled weights ({', '.join(pickles)}), which can run code when "
                "loaded; only safetensors weights are read"
            )
        raise ArtifactMissingError(f"{what} not found: {path} has no weight files (*.safetensors)")
    for weights in sorted(path.glob("*.safetensors")):
        check_safetensors(weights)  # a copy or merge cut short: named here, not as a loader's traceback
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise ArtifactMissingError(f"{what} in {path} has no tokenizer ({' or '.join(TOKENIZER_FILES)})")
    return path


def require_adapter_dir(path: Path) -> Path:
    """A complete adapter folder whose files are what training recorded (see integrity.verify_adapter)."""
    path = Path(path)
    if not (path / ADAPTER_CONFIG).is_file():
        raise ArtifactMissingError(f"LoRA adapter not found: {path} has no adapter_config.json")
    if not (path / ADAPTER_WEIGHTS).is_file():
        pickles = sorted(p.name for pattern in PICKLE_PATTERNS for p in path.glob(pattern))
        found = f" (only pickled weights: {', '.join(pickles)}, which are never read)" if pickles else ""
        raise ArtifactMissingError(f"LoRA adapter not found: {path} has no adapter_model.safetensors{found}")
    verify_adapter(path)
    return path

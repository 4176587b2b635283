"""Answer one question with the base model, the promoted adapter, a given adapter or the merged model.

What `medimind ask` runs. Every model is found from the pipeline's pointers under the data directory:
`models/base_model.json` (the base), `adapters/current.json` (the promoted adapter) and
`merged/<fingerprint>/` (its merge). Anything missing raises `ArtifactMissingError` with a one-line reason.
"""

from __future__ import annotations

import json
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medimind_assets.evaluation.generation import DEFAULT_REPETITION_PENALTY, Generated, generate_answers
from medimind_assets.integrity import ADAPTER_CONFIG, read_summary
from medimind_assets.llm.artifacts import ArtifactMissingError, require_adapter_dir, require_model_dir
from medimind_assets.llm.loading import attach_adapter, load_for_inference, load_tokenizer
from medimind_assets.llm.template import PromptTemplate, plain_text, template_from_summary
from medimind_assets.models import BaseModelError, read_current_base_model
from medimind_assets.promotion import base_weights_hash, verified_merge, verified_promotion
from medimind_assets.serving.chat import is_blank, no_fit, normalise
from medimind_assets.store import ArtifactStore


@dataclass(frozen=True)
class Target:
    """One model to ask: `model_dir` alone, or with the LoRA adapter in `adapter_dir` on top."""

    label: str
    model_dir: Path
    adapter_dir: Path | None = None
    template: PromptTemplate = PromptTemplate()


def current_base_dir(store: ArtifactStore) -> Path:
    try:
        manifest = read_current_base_model(store)
    except BaseModelError as exc:
        raise ArtifactMissingError(str(exc)) from None
    return require_model_dir(Path(manifest["path"]), f"base model {manifest.get('name', '')}".strip())


def _base_for_adapter(store: ArtifactStore, adapter_dir: Path) -> Path:
    """The pipeline's base model; without one, the local base the adapter itself names."""
    try:
        return current_base_dir(store)
    except ArtifactMissingError:
        config = json.loads((adapter_dir / ADAPTER_CONFIG).read_text(encoding="utf-8"))
        named = config.get("base_model_name_or_path")  # a hub id or a path
        if named and Path(named).is_dir():
            return require_model_dir(Path(named), "base model named by the adapter")
        raise


def base_name(store: ArtifactStore, model_dir: Path, recorded: Any = None) -> str:
    """The name of the base in `model_dir`: the pipeline's when it is that folder, else the name `recorded` (a
    promotion's record of the base it verified) gives, else the folder's."""
    with suppress(BaseModelError):
        manifest = read_current_base_model(store)
        if manifest["name"] and Path(manifest["path"]).resolve() == Path(model_dir).resolve():
            return str(manifest["name"])
    if isinstance(recorded, dict) and recorded.get("name"):
        return str(recorded["name"])
    return Path(model_dir).name


def adapter_target(store: ArtifactStore, adapter_dir: Path) -> Target:
    """`adapter_dir` on the current base (`_base_for_adapter`); ArtifactMissingError when its training summary
    records other base weights than those (an adapter whose summary records no base is not checked)."""
    adapter_dir = require_adapter_dir(Path(adapter_dir))
    summary = read_summary(adapter_dir)
    base_dir = _base_for_adapter(store, adapter_dir)
    trained = summary.get("base_model")
    trained_hash = trained.get("content_hash") if isinstance(trained, dict) else None
    if trained_hash and (actual := base_weights_hash(store, base_dir)) != trained_hash:
        raise ArtifactMissingError(
            f"adapter {adapter_dir} was trained on base {trained.get('name')} ({trained_hash[:12]}), but the current "
            f"base model is {base_name(store, base_dir)} ({actual[:12]}); use an adapter trained on the current base"
        )
    return Target(f"adapter {adapter_dir.name}", base_dir, adapter_dir, template_from_summary(summary))


def promoted_target(store: ArtifactStore) -> tuple[Target, dict]:
    """The adapter `current.json` promotes, on the base it was evaluated with, once both are checked to be what
    the gate evaluated (`verified_promotion`); with the promotion record."""
    promoted = verified_promotion(store)
    template = template_from_summary(read_summary(promoted.adapter_dir))
    return Target(f"adapter {promoted.fingerprint}", promoted.base_dir, promoted.adapter_dir, template), promoted.record


def merged_target(store: ArtifactStore, merged_dir: Path, promoted: dict | None = None) -> tuple[Target, Path | None]:
    """The merged model, checked (`verified_merge`), and the base folder it was merged from (when it still
    exists)."""
    merged_dir = require_model_dir(Path(merged_dir), "merged model")
    info = verified_merge(store, merged_dir, promoted)
    adapter_dir = Path(info["adapter_dir"]) if info.get("adapter_dir") else None
    summary = read_summary(adapter_dir) if adapter_dir and adapter_dir.is_dir() else {}
    base_dir = Path(info["base_model_dir"]) if info.get("base_model_dir") else None
    target = Target(f"merged {merged_dir.name}", merged_dir, None, template_from_summary(summary))
    return target, base_dir if base_dir and base_dir.is_dir() else None


def resolve_targets(
    data_dir: Path,
    *,
    adapter: Path | None = None,
    merged: Path | str | None = None,
    base: bool = False,
    compare: bool = False,
) -> list[Target]:
    """The models to ask, in print order: [base] alone, [model], or [base, model] with `compare`.

    The model is the promoted adapter on the base it was evaluated with, `adapter` on the current base, or the
    merged model (`merged=""`: the merge of the promoted adapter).
    """
    store = ArtifactStore.at(data_dir)
    if base and not compare:
        return [Target("base", current_base_dir(store))]
    base_dir: Path | None = None
    if merged is not None:
        promoted = None
        if merged == "":
            promoted = verified_promotion(store).record
            merged = store.merged / promoted["fingerprint"]
            if not merged.is_dir():
                raise ArtifactMissingError(
                    f"no merged model for the promoted adapter: {merged} does not exist "
                    "(build it with `medimind launch merged_model`)"
                )
        target, base_dir = merged_target(store, Path(merged), promoted)
    elif adapter is not None:
        target = adapter_target(store, adapter)
    else:
        target = promoted_target(store)[0]
    if not compare:
        return [target]
    if target.adapter_dir is not None:
        base_dir = target.model_dir
    # Both sides get the same prompt.
    return [Target("base", base_dir or current_base_dir(store), None, target.template), target]


def prompt_budget(model, max_new_tokens: int, prompt_tokens: int) -> int | None:
    """How many prompt tokens fit beside `max_new_tokens` in the model's context (None when it names none).

    A prompt longer than the context itself is cut to its last tokens, as the evaluation cuts it; ValueError when
    `max_new_tokens` is what leaves too little room: none at all, or less than a prompt the context would hold."""
    context = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if not context:
        return None
    context = int(context)
    room = context - max_new_tokens
    if room < 1:
        raise ValueError(
            f"max_new_tokens {max_new_tokens} leaves no room for the question in the model's {context}-token context"
        )
    if room < prompt_tokens < context:
        raise ValueError(no_fit(prompt_tokens, max_new_tokens, context))
    return room


def ask(
    targets: list[Target],
    question: str,
    *,
    max_new_tokens: int = 128,
    device: str = "auto",
    repetition_penalty: float = DEFAULT_REPETITION_PENALTY,
    max_prompt_tokens: int | None = 256,
) -> list[tuple[Target, Generated]]:
    """Greedy answer of each target, decoded as the evaluation decodes (`repetition_penalty`) and read as it reads
    a question (a longer prompt keeps its last `max_prompt_tokens` tokens, as serving does too). Targets sharing a
    base model load it once (the adapter is switched off for the plain base)."""
    if is_blank(question):
        raise ValueError("the question is blank")
    question = normalise(question)
    loaded: dict[Path, tuple[object, object]] = {}
    adapters = {t.model_dir: t.adapter_dir for t in targets if t.adapter_dir is not None}
    answers: list[tuple[Target, Generated]] = []
    for target in targets:
        if target.model_dir not in loaded:
            model = load_for_inference(target.model_dir, device)
            if target.model_dir in adapters:
                model = attach_adapter(model, adapters[target.model_dir])
            loaded[target.model_dir] = (model, load_tokenizer(target.model_dir))
        model, tokenizer = loaded[target.model_dir]
        # The plain base of a comparison is the loaded model with its adapter switched off.
        plain_base = target.adapter_dir is None and hasattr(model, "disable_adapter")
        prompt = target.template.prompt(plain_text(question, tokenizer))
        prompt_tokens = len(tokenizer(prompt, add_special_tokens=False, verbose=False)["input_ids"])
        if max_prompt_tokens is not None:
            prompt_tokens = min(prompt_tokens, max_prompt_tokens)
        room = prompt_budget(model, max_new_tokens, prompt_tokens)
        budget = min((bound for bound in (room, max_prompt_tokens) if bound is not None), default=None)
        with model.disable_adapter() if plain_base else nullcontext():
            generated = generate_answers(
                model,
                tokenizer,
                [prompt],
                max_new_tokens=max_new_tokens,
                max_prompt_tokens=budget,
                repetition_penalty=repetition_penalty,
                stop_at=target.template.turn_markers,
                log=lambda _: None,
            )
        answers.append((target, generated[0]))
    return answers

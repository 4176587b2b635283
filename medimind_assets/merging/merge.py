"""Merge a LoRA adapter into its base model's weights and prove the merged model computes the same thing.

The base is loaded in fp32 even when the adapter was trained on a 4-bit base (merging into quantized weights
would round the update away), the update W + BA is added in fp32, and the result is saved in the serving
precision: fp32 on CPU, bf16 on a GPU that supports it.

The proof reloads the saved model from disk, upcast to fp32, and compares its logits with fp32 base + adapter
on a few prompts: max |difference| <= atol + rtol x max |logit|. Comparing in fp32 isolates the merge from
bf16 inference noise, which on a 135M-parameter model already moves logits by ~1 (more than a LoRA update
may). What is left is the rounding of the saved weights: ~1e-6 for fp32 weights; for bf16 weights (8 bits of
mantissa) ~0.5% of the largest logit was measured on SmolLM2-135M, hence the looser bf16 default.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from medimind_assets.atomic import atomic_directory
from medimind_assets.digests import combined_hash, file_digests
from medimind_assets.llm.loading import (
    attach_adapter,
    choose_device,
    full_precision_dtype,
    load_for_inference,
    load_tokenizer,
)
from medimind_assets.llm.template import PromptTemplate
from medimind_assets.models.model_dir import weight_digests
from medimind_assets.quiet import no_progress_bars
from medimind_assets.store import MERGE_INFO, SHAPING_FILES

logger = logging.getLogger(__name__)
Log = Callable[[str], None]
PROOF_QUESTIONS = (
    "What is a headache?",
    "What are the symptoms of type 2 diabetes?",
    "How is high blood pressure treated?",
    "I have chest pain and trouble breathing. What should I do?",
)
# (atol, rtol) per dtype name.
TOLERANCES = {"float32": (1e-4, 1e-4), "bfloat16": (5e-2, 1e-2)}


@dataclass(frozen=True)
class Equivalence:
    max_abs_diff: float
    max_abs_logit: float
    atol: float
    rtol: float
    n_prompts: int
    n_positions: int

    @property
    def bound(self) -> float:
        return self.atol + self.rtol * self.max_abs_logit

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.bound


@dataclass(frozen=True)
class MergeReport:
    path: Path
    weights_sha256: str
    weight_files: dict[str, str]
    size_bytes: int
    dtype: str
    device: str
    equivalence: Equivalence
    info: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["path"] = str(self.path)
        out["equivalence"] = {**asdict(self.equivalence), "bound": self.equivalence.bound}
        return out

    @classmethod
    def from_dict(cls, data: dict) -> MergeReport:
        """The report `as_dict` wrote."""
        equivalence = Equivalence(**{key: value for key, value in data["equivalence"].items() if key != "bound"})
        return cls(**{**data, "path": Path(data["path"]), "equivalence": equivalence})


def proof_prompts(template: PromptTemplate) -> list[str]:
    """Prompts with a partial answer, so logits are compared over answer positions too."""
    return [template.prompt(q) + template.completion("It is") for q in PROOF_QUESTIONS]


def prompt_logits(model, tokenizer, prompts: Sequence[str]):
    """Logits of each prompt, one prompt per forward pass (no padding involved), concatenated, in fp32."""
    import torch

    device = next(model.parameters()).device
    outputs = []
    with torch.inference_mode():
        for prompt in prompts:
            ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"].to(device)
            outputs.append(model(input_ids=ids).logits[0].float().cpu())
    return torch.cat(outputs)


def compare_logits(
    reference, candidate, dtype_name: str, n_prompts: int, atol: float | None = None, rtol: float | None = None
) -> Equivalence:
    """Max |difference| of two logit tensors against the tolerance (defaults by dtype)."""
    default_atol, default_rtol = TOLERANCES.get(dtype_name, TOLERANCES["float32"])
    return Equivalence(
        max_abs_diff=float((reference - candidate).abs().max()),
        max_abs_logit=float(reference.abs().max()),
        atol=default_atol if atol is None else atol,
        rtol=default_rtol if rtol is None else rtol,
        n_prompts=n_prompts,
        n_positions=int(reference.shape[0]),
    )


def merge_adapter(
    base_dir: Path,
    adapter_dir: Path,
    out_dir: Path,
    *,
    template: PromptTemplate | None = None,
    device: str = "auto",
    atol: float | None = None,
    rtol: float | None = None,
    info: dict | None = None,
    log: Log | None = None,
) -> MergeReport:
    """Write base + adapter merged (safetensors + tokenizer) to `out_dir` atomically; measure equivalence.

    A merge that is not equivalent is still written, so it can be inspected, and `merge_info.json` records the
    failed proof (`medimind ask --merged` refuses such a model; the asset check fails).
    """
    import torch

    log = log or logger.info
    device = choose_device(device)
    save_dtype = full_precision_dtype(device)
    dtype_name = str(save_dtype).removeprefix("torch.")
    tokenizer = load_tokenizer(base_dir)
    prompts = proof_prompts(template or PromptTemplate())
    model = attach_adapter(load_for_inference(base_dir, device, torch.float32), adapter_dir)
    reference = prompt_logits(model, tokenizer, prompts)
    merged = model.merge_and_unload().to(save_dtype)
    log(f"merged {adapter_dir} into {base_dir} (fp32 on {device}, saved as {dtype_name})")
    info = {**(info or {}), "base_model_dir": str(base_dir), "adapter_dir": str(adapter_dir), "dtype": dtype_name}
    with atomic_directory(Path(out_dir)) as tmp, no_progress_bars():
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        del merged, model
        reloaded = load_for_inference(tmp, device, torch.float32)
        equivalence = compare_logits(
            reference, prompt_logits(reloaded, tokenizer, prompts), dtype_name, len(prompts), atol, rtol
        )
        del reloaded
        info["equivalence"] = {**asdict(equivalence), "bound": equivalence.bound, "passed": equivalence.passed}
        # What `medimind ask --merged` checks before it loads the weights: these files, as they were written.
        weight_files = info["weight_files"] = weight_digests(tmp)
        # And what shapes the answers besides the weights (a hand-edited rope_theta or chat template would not
        # change one weight byte).
        shaping = [name for name in SHAPING_FILES if (tmp / name).is_file()]
        info["config_files"] = file_digests(tmp, shaping)
        (tmp / MERGE_INFO).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    log(
        f"merged model: max |logit diff| {equivalence.max_abs_diff:.2e} "
        f"(bound {equivalence.bound:.2e}) over {equivalence.n_positions} positions"
    )
    return MergeReport(
        path=Path(out_dir),
        weights_sha256=combined_hash(weight_files),
        weight_files=weight_files,
        size_bytes=sum(p.stat().st_size for p in Path(out_dir).rglob("*") if p.is_file()),
        dtype=dtype_name,
        device=device,
        equivalence=equivalence,
        info=info,
    )

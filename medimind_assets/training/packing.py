"""Whether examples flattened into one row (padding-free passes, packing) stay apart with this model.

trl's padding-free collator puts a pass's examples side by side in one row, with `position_ids` restarting at 0 for
each and no attention mask; transformers' masks then detect the packed sequences from the position ids (sdpa,
eager) and FlashAttention-2 reads the boundaries from them. Whether that holds for the model at hand is checked
numerically before training, not assumed: the flattened loss must equal the examples' losses computed alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from medimind_assets.llm.encoding import IGNORE_INDEX


class PackingLeakError(RuntimeError):
    """Flattened examples attend to each other with this model's attention implementation."""


def collate(features: Sequence[dict[str, Any]], pad_token_id: int, padding_free: bool) -> dict[str, Any]:
    """trl's language-modeling collator (what SFTTrainer batches with)."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    collator = DataCollatorForLanguageModeling(pad_token_id=pad_token_id, padding_free=padding_free)
    return collator([{"input_ids": f["input_ids"], "labels": f["labels"]} for f in features])


def summed_loss(model, batch: dict[str, Any], dtype: str = "float64") -> tuple[float, int]:
    """(sum of token losses, number of scored tokens) of one batch, computed in `dtype`."""
    import torch

    device = next(model.parameters()).device
    batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
    labels = batch.pop("labels")
    with torch.no_grad():
        logits = model(**batch, use_cache=False).logits
    loss = torch.nn.functional.cross_entropy(
        logits[:, :-1].to(getattr(torch, dtype)).reshape(-1, logits.shape[-1]),
        labels[:, 1:].reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    return float(loss), int((labels[:, 1:] != IGNORE_INDEX).sum())


@contextlib.contextmanager
def evaluation_mode(model) -> Iterator[None]:
    """The model in eval mode (no dropout) for a check before training, then back in its mode.

    bitsandbytes' 4-bit layers stay in training mode: on a CPU, their first eval-mode forward repacks the weights
    for inference in place, and training then fails on them (bitsandbytes 0.50).
    """
    was_training = model.training
    model.eval()
    for module in model.modules():
        if type(module).__name__ == "Linear4bit":
            module.train()
    try:
        yield
    finally:
        model.train(was_training)


def check_flattening(model, features: Sequence[dict[str, Any]], pad_token_id: int) -> tuple[float, float]:
    """(flattened, alone) summed losses of `features` flattened into one row and each alone; raise PackingLeakError
    when they differ."""
    if len(features) < 2:
        raise ValueError("the flattening check needs at least two examples")
    with evaluation_mode(model):
        flat, _ = summed_loss(model, collate(features, pad_token_id, padding_free=True))
        alone = sum(summed_loss(model, collate([f], pad_token_id, padding_free=False))[0] for f in features)
    if abs(flat - alone) > 1e-4 * max(1.0, abs(alone)):
        implementation = getattr(model.config, "_attn_implementation", "?")
        raise PackingLeakError(
            f"examples in one row are not kept apart with attn_implementation={implementation!r}: the flattened loss "
            f"{flat:.6f} differs from the examples alone {alone:.6f}, so they would attend to each other. Train with "
            "padding_free=False and packing=False (padded passes), or on a GPU with flash_attention_2."
        )
    return flat, alone

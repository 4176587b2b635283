"""Batches without padding to `max_length`: dynamic padding (with length-grouped sampling) or packing.

Padding: each batch is padded on the right to its own longest example; padded positions are masked out of
attention and of the loss, so padding never changes a loss. The Trainer's `group_by_length` sampler puts
examples of similar length together, so little padding is left.

Packing: a batch is one row, the examples side by side, with `position_ids` restarting at 0 for each. Models
whose masks follow transformers' packed-sequence detection (no attention mask, no cache) then attend only
within each example; FlashAttention-2 does the same through the position ids. Whether that holds for the
model at hand is checked numerically before training (`check_packing_isolation`), not assumed.

Micro-batches by token budget (`StepCollator`): the sampler hands over all the examples of one optimizer step
(batch_size x gradient_accumulation_steps, the same examples, in the same order, as the seed's fixed micro-batches
would take), and they are split into forward passes of at most `token_budget` padded (or packed) tokens each. A
step of short examples is then one or two large passes instead of four small ones; the step's gradient is the same
sum, normalised by the same count of scored tokens over the whole step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from medimind_assets.llm.encoding import IGNORE_INDEX, EncodedExample
from medimind_assets.training.loss import TARGETS_KEY, with_loss_positions

MICRO_BATCHES_KEY = "micro_batches"


class PaddingCollator:
    """Right-pads `input_ids` (with `pad_token_id`) and `labels` (with -100) to the batch's longest example."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        input_ids = torch.full((len(features), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((len(features), width), dtype=torch.long)
        for row, feature in enumerate(features):
            n = len(feature["input_ids"])
            input_ids[row, :n] = torch.as_tensor(feature["input_ids"])
            labels[row, :n] = torch.as_tensor(feature["labels"])
            attention_mask[row, :n] = 1
        return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}


def packing_collator():
    """Concatenate a batch into one row with restarting `position_ids`; the first label of each example
    is -100, so no example is asked to predict the next one's first token."""
    from transformers import DataCollatorWithFlattening

    return DataCollatorWithFlattening(return_position_ids=True, separator_id=IGNORE_INDEX)


def _round_up(n: int, multiple: int | None) -> int:
    return -(-n // multiple) * multiple if multiple else n


def micro_batch_groups(
    lengths: Sequence[int],
    token_budget: int | None,
    batch_size: int,
    packed: bool = False,
    pad_to_multiple_of: int | None = None,
) -> list[list[int]]:
    """Indices of one step's examples (of these `lengths`) grouped into micro-batches.

    `token_budget` None: `batch_size` examples each, in the given order (the seed's micro-batches). Otherwise,
    longest first, as many examples as fit in `token_budget` tokens: rows x padded width when padding, the sum of
    lengths when packing. An example longer than the budget is a micro-batch of its own.
    """
    n = len(lengths)
    if token_budget is None:
        return [list(range(start, min(start + batch_size, n))) for start in range(0, n, batch_size)]
    groups: list[list[int]] = []
    current: list[int] = []
    width = total = 0
    for index in sorted(range(n), key=lambda i: -lengths[i]):
        length = lengths[index]
        cost = total + length if packed else (len(current) + 1) * _round_up(max(width, length), pad_to_multiple_of)
        if current and cost > token_budget:
            groups.append(current)
            current, width, total = [], 0, 0
        current.append(index)
        width, total = max(width, length), total + length
    if current:
        groups.append(current)
    return groups


class StepCollator:
    """All the examples of one optimizer step, as micro-batches (padded or packed) with their scored positions.

    Returns {"micro_batches": [...], "num_tokens": real tokens, "num_items": scored tokens of the whole step}:
    the loss of each micro-batch is divided by the step's `num_items`, as the Trainer normalises accumulated
    micro-batches.
    """

    def __init__(
        self,
        pad_token_id: int,
        batch_size: int,
        token_budget: int | None,
        packing: bool = False,
        pad_to_multiple_of: int | None = None,
    ) -> None:
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.packing = packing
        self.pad_to_multiple_of = None if packing else pad_to_multiple_of
        self.collate = packing_collator() if packing else PaddingCollator(pad_token_id, pad_to_multiple_of)

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict[str, Any]:
        lengths = [len(f["input_ids"]) for f in features]
        groups = micro_batch_groups(lengths, self.token_budget, self.batch_size, self.packing, self.pad_to_multiple_of)
        micro_batches = [with_loss_positions(self.collate([features[i] for i in group])) for group in groups]
        return {
            MICRO_BATCHES_KEY: micro_batches,
            "num_tokens": sum(lengths),
            "num_items": sum(len(batch[TARGETS_KEY]) for batch in micro_batches),
        }


def summed_loss(model, batch: dict[str, Any]) -> tuple[float, int]:
    """(sum of token losses, number of scored tokens) of one batch, in float64."""
    import torch

    device = next(model.parameters()).device
    batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
    labels = batch.pop("labels")
    with torch.no_grad():
        logits = model(**batch, use_cache=False).logits
    shift_logits = logits[:, :-1].double()
    shift_labels = labels[:, 1:]
    loss = torch.nn.functional.cross_entropy(
        shift_logits.reshape(-1, shift_logits.shape[-1]),
        shift_labels.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    return float(loss), int((shift_labels != IGNORE_INDEX).sum())


def mean_loss(model, examples: Sequence[EncodedExample], batch_size: int, pad_token_id: int) -> float:
    """Token-weighted mean loss over `examples` (length-sorted batches, dynamic padding)."""
    collate = PaddingCollator(pad_token_id)
    ordered = sorted(examples, key=len)
    total, count = 0.0, 0
    for start in range(0, len(ordered), batch_size):
        batch = collate([e.as_features() for e in ordered[start : start + batch_size]])
        loss, n = summed_loss(model, batch)
        total, count = total + loss, count + n
    if count == 0:
        raise ValueError("no scored tokens: every label is masked")
    return total / count


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


class PackingLeakError(RuntimeError):
    """Packed examples attend to each other with this model's attention implementation."""


def check_packing_isolation(
    model, examples: Sequence[EncodedExample], pad_token_id: int, rel_tol: float = 1e-4
) -> tuple[float, float]:
    """Loss of `examples` packed into one row vs each alone; raise PackingLeakError when they differ.

    Returns (packed, alone) summed losses.
    """
    if len(examples) < 2:
        raise ValueError("the packing check needs at least two examples")
    with evaluation_mode(model):
        packed, _ = summed_loss(model, packing_collator()([e.as_features() for e in examples]))
        alone = sum(summed_loss(model, PaddingCollator(pad_token_id)([e.as_features()]))[0] for e in examples)
    if abs(packed - alone) > rel_tol * max(1.0, abs(alone)):
        implementation = getattr(model.config, "_attn_implementation", "?")
        raise PackingLeakError(
            f"packing is not exact with attn_implementation={implementation!r}: the packed loss {packed:.6f} "
            f"differs from the examples alone {alone:.6f}, so packed examples would attend to each other. "
            "Train with packing=False (length-grouped padding), or on a GPU with flash_attention_2."
        )
    return packed, alone

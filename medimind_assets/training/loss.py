"""The training loss on labelled positions only, without logits over the whole batch (why ours: docs/training.md).

The model runs without its own projection (`logits_to_keep=1`), its decoder's last hidden states are taken by a
hook, and only the positions whose next token is labelled are projected and scored, in chunks of rows: only one
chunk's logits exist at a time. The gradient with respect to the hidden states is computed chunk by chunk in the
forward pass (the head is frozen under LoRA, so nothing else needs one), and scaled in the backward pass.
`check_labelled_loss` verifies before training that it equals the model's own loss.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from medimind_assets.llm.encoding import IGNORE_INDEX

if TYPE_CHECKING:
    import torch


# Elements of one chunk's logits (fp32): 2**26 is 256 MiB, 1,310 rows of phi-2's 51,200-token vocabulary.
CHUNK_ELEMENTS = 2**26
POSITIONS_KEY = "loss_positions"
TARGETS_KEY = "loss_targets"


class LabelledLossMismatch(RuntimeError):
    """The labelled-position loss differs from the model's own loss for this model."""


def loss_positions(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(flat indices into the batch's rows x positions, next-token targets) of every scored prediction.

    Position t of a row predicts label t + 1; it is scored when that label is not IGNORE_INDEX.
    """
    import torch

    next_labels = torch.full_like(labels, IGNORE_INDEX)
    next_labels[:, :-1] = labels[:, 1:]
    flat = next_labels.reshape(-1)
    index = (flat != IGNORE_INDEX).nonzero().squeeze(1)
    return index, flat[index]


def with_loss_positions(batch: dict[str, Any]) -> dict[str, Any]:
    """`batch` with the scored positions and their targets added (computed here, on the CPU)."""
    index, targets = loss_positions(batch["labels"])
    return {**batch, POSITIONS_KEY: index, TARGETS_KEY: targets}


@functools.cache
def _linear_cross_entropy():
    """The autograd function, defined on first use so that importing this module does not import torch."""
    import torch

    class LinearCrossEntropy(torch.autograd.Function):
        """Sum over rows of cross_entropy(hidden @ weight.T + bias, targets), chunk by chunk."""

        @staticmethod
        def forward(ctx, hidden, weight, bias, targets, chunk_rows: int):
            total = torch.zeros((), dtype=torch.float32, device=hidden.device)
            grad = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
            for start in range(0, hidden.shape[0], chunk_rows):
                rows = slice(start, start + chunk_rows)
                # The head's dtype (or autocast's) as the model's own projection; the loss in fp32 as transformers'.
                logits = torch.nn.functional.linear(hidden[rows].to(weight.dtype), weight, bias).float()
                log_probs = torch.log_softmax(logits, dim=-1)
                del logits
                chosen = targets[rows].unsqueeze(1)
                total -= log_probs.gather(1, chosen).sum()
                if grad is not None:
                    # d(-log p_target)/d logits = softmax - one_hot, back through the head.
                    probs = log_probs.exp_()
                    probs.scatter_add_(1, chosen, torch.full_like(chosen, -1, dtype=probs.dtype))
                    grad[rows] = (probs.to(weight.dtype) @ weight).to(hidden.dtype)
                del log_probs
            ctx.save_for_backward(grad)
            return total

        @staticmethod
        def backward(ctx, grad_output):
            (grad,) = ctx.saved_tensors
            # The scale (1 / scored tokens of the step) multiplied in fp32: rounded to bf16 it would be off by 0.4%.
            return (grad.float() * grad_output).to(grad.dtype), None, None, None, None

    return LinearCrossEntropy


def linear_cross_entropy_sum(
    hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, targets: torch.Tensor
) -> torch.Tensor:
    """Summed cross-entropy of the projected `hidden` rows (N x H) against `targets` (N), in fp32.

    The head (`weight`, `bias`) must be frozen: only `hidden` gets a gradient.
    """
    if weight.requires_grad or (bias is not None and bias.requires_grad):
        raise ValueError("the labelled-position loss needs a frozen output head (LoRA does not train it)")
    chunk_rows = max(1, CHUNK_ELEMENTS // weight.shape[0])
    return _linear_cross_entropy().apply(hidden, weight, bias, targets, chunk_rows)


def labelled_loss_sum(model, batch: dict[str, Any]) -> torch.Tensor:
    """Summed next-token loss of `batch` (from `with_loss_positions`, on the model's device) on its labelled
    positions only. `model` is called through its wrappers (DDP needs its own forward), its decoder's output
    taken by a hook."""
    base = getattr(model, "module", model)  # under DDP
    base = base.get_base_model() if hasattr(base, "get_base_model") else base  # under PEFT
    decoder = base.get_decoder() if hasattr(base, "get_decoder") else None
    decoder = decoder if decoder is not None else base.model
    captured: list = []
    handle = decoder.register_forward_hook(lambda module, args, output: captured.append(output[0]))
    inputs = {k: v for k, v in batch.items() if k not in ("labels", POSITIONS_KEY, TARGETS_KEY)}
    try:
        # logits_to_keep=1: the model projects one position per row, not all of them.
        model(**inputs, logits_to_keep=1, use_cache=False)
    finally:
        handle.remove()
    hidden = captured[-1]
    selected = hidden.reshape(-1, hidden.shape[-1]).index_select(0, batch[POSITIONS_KEY])
    head = base.get_output_embeddings()
    return linear_cross_entropy_sum(selected, head.weight, head.bias, batch[TARGETS_KEY])


def check_labelled_loss(
    model, features: Sequence[dict[str, Any]], pad_token_id: int, rel_tol: float = 1e-4
) -> tuple[float, float]:
    """(labelled-position, full-logits) summed losses of `features` in one padded batch; raise LabelledLossMismatch
    when they differ (a model whose logits are not its head applied to its decoder's output, e.g. soft-capped)."""
    import torch

    from medimind_assets.training.packing import collate, evaluation_mode, summed_loss

    device = next(model.parameters()).device
    batch = collate(features, pad_token_id, padding_free=False)
    with evaluation_mode(model), torch.no_grad():
        labelled = float(labelled_loss_sum(model, {k: v.to(device) for k, v in with_loss_positions(batch).items()}))
        # float32, as the model's own loss (and half the memory of float64 over the full-vocabulary logits).
        full, _ = summed_loss(model, batch, dtype="float32")
    if abs(labelled - full) > rel_tol * max(1.0, abs(full)):
        raise LabelledLossMismatch(
            f"the labelled-position loss {labelled:.6f} differs from the model's full-logits loss {full:.6f}"
        )
    return labelled, full

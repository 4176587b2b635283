"""Log-likelihood of completions given prompts, batched with dynamic padding.

Used for the held-out loss (reference answers + EOS) and for ranking MEDIQA candidate answers, on sequences
encoded by `medimind_assets.llm.encoding` (evaluation's rule: separate prompt and answer budgets). Sequences are
sorted by length and grouped under a token budget, so a batch is padded only to its own longest sequence.
Padding is on the right with an attention mask; a causal model's logits at real positions do not depend on it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from medimind_assets.llm.encoding import EncodedExample, encode_batch
from medimind_assets.llm.template import PromptTemplate

logger = logging.getLogger(__name__)
Log = Callable[[str], None]


@dataclass(frozen=True)
class CompletionScore:
    logprob_sum: float
    n_tokens: int

    @property
    def mean_logprob(self) -> float:
        """Length-normalised log-likelihood (per completion token)."""
        return self.logprob_sum / self.n_tokens


@dataclass(frozen=True)
class LossResult:
    loss: float  # mean negative log-likelihood per response token (EOS included)
    perplexity: float
    n_tokens: int
    n_examples: int


def make_batches(lengths: Sequence[int], max_batch_tokens: int, max_batch_size: int) -> list[list[int]]:
    """Indices grouped longest first, each group padded-size (len x longest) within the token budget."""
    batches: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        batch = batches[-1] if batches else []
        if batch and len(batch) < max_batch_size and (len(batch) + 1) * lengths[batch[0]] <= max_batch_tokens:
            batch.append(index)
        else:
            batches.append([index])
    return batches


def padded(rows: Sequence[Sequence[int]], pad_token_id: int, left: bool = False):
    """(input ids, attention mask) tensors, each row padded to the longest: on the right for scoring, on the left
    for generation (a decoder continues from the last position)."""
    import torch

    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for number, row in enumerate(rows):
        where = slice(width - len(row), width) if left else slice(0, len(row))
        ids[number, where] = torch.tensor(list(row))
        mask[number, where] = 1
    return ids, mask


def _forward_batches(
    model,
    rows: Sequence[Sequence[int]],
    pick: Callable,
    *,
    pad_token_id: int,
    max_batch_tokens: int = 4096,
    max_batch_size: int = 16,
    log: Log | None = None,
    label: str = "scoring",
) -> list:
    """Each row's result, in input order: the rows are batched (`make_batches`), padded on the right with an
    attention mask, run through the model, and `pick(batch, ids, logits)` gives one result per row of a batch."""
    import torch

    log = log or logger.info
    device = next(model.parameters()).device
    batches = make_batches([len(row) for row in rows], max_batch_tokens, max_batch_size)
    results: list = [None] * len(rows)
    started, done, every = time.monotonic(), 0, max(1, len(batches) // 10)
    with torch.inference_mode():
        for number, batch in enumerate(batches, start=1):
            ids, mask = padded([rows[i] for i in batch], pad_token_id)
            ids = ids.to(device)
            logits = model(input_ids=ids, attention_mask=mask.to(device)).logits
            for index, result in zip(batch, pick(batch, ids, logits), strict=True):
                results[index] = result
            done += len(batch)
            if number % every == 0 or number == len(batches):
                log(f"{label}: {done}/{len(rows)} sequences, {time.monotonic() - started:.1f}s")
    return results


def score_encoded(model, encoded: Sequence[EncodedExample], **batching) -> list[CompletionScore]:
    """Sum of log-probabilities of each completion's tokens, in input order (`batching`: `_forward_batches`'
    keywords: pad_token_id, the batch bounds, log, label)."""
    import torch

    def pick(batch, ids, logits):
        scored = torch.zeros(ids.shape, dtype=torch.bool)
        for row, index in enumerate(batch):
            n = len(encoded[index])
            scored[row, n - encoded[index].n_completion : n] = True
        # Position t predicts token t+1; only the scored positions go through the (vocab-wide) softmax.
        where = scored[:, 1:].to(ids.device)
        picked = torch.log_softmax(logits[:, :-1][where].float(), dim=-1)
        token_logprobs = picked.gather(-1, ids[:, 1:][where].unsqueeze(-1)).squeeze(-1)
        rows = where.nonzero()[:, 0]
        sums = torch.zeros(len(batch), device=ids.device).index_add_(0, rows, token_logprobs).tolist()
        return [CompletionScore(total, encoded[i].n_completion) for total, i in zip(sums, batch, strict=True)]

    return _forward_batches(model, [e.input_ids for e in encoded], pick, **batching)


def next_token_logprobs(
    model, sequences: Sequence[Sequence[int]], token_ids: Sequence[int], **batching
) -> list[list[float]]:
    """Per sequence, the log-probability of each of `token_ids` as the token that follows it, in input order
    (`batching`: `_forward_batches`' keywords)."""
    import torch

    if any(not ids for ids in sequences):
        raise ValueError("cannot score the next token of an empty sequence")

    def pick(batch, ids, logits):
        last = torch.tensor([len(sequences[i]) - 1 for i in batch], device=ids.device)
        picked = torch.log_softmax(logits[torch.arange(len(batch), device=ids.device), last].float(), dim=-1)
        return picked[:, torch.tensor(list(token_ids), device=ids.device)].tolist()

    return _forward_batches(model, sequences, pick, **batching)


def heldout_loss(
    model,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    template: PromptTemplate,
    *,
    max_response_tokens: int | None = None,
    max_prompt_tokens: int | None = None,
    label: str = "loss",
    **batching,
) -> LossResult:
    """Mean NLL per response token (+ EOS) of `(instruction, response)` pairs; prompts are not scored (`batching`:
    the batch bounds and log `score_encoded` takes)."""
    if not pairs:
        raise ValueError("no (instruction, response) pairs to compute a held-out loss on")
    encoded = encode_batch(
        tokenizer,
        [template.prompt(instruction) for instruction, _ in pairs],
        [template.completion(response) for _, response in pairs],
        add_eos=True,
        max_completion_tokens=max_response_tokens,
        max_prompt_tokens=max_prompt_tokens,
    )
    scores = score_encoded(model, encoded, pad_token_id=tokenizer.pad_token_id, label=label, **batching)
    n_tokens = sum(s.n_tokens for s in scores)
    loss = -sum(s.logprob_sum for s in scores) / n_tokens
    perplexity = math.exp(loss) if loss < 700 else math.inf  # exp overflows a float beyond ~709
    return LossResult(loss=loss, perplexity=perplexity, n_tokens=n_tokens, n_examples=len(scores))

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
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = lengths[current[0]] if current else lengths[index]
        if current and (len(current) + 1 > max_batch_size or (len(current) + 1) * longest > max_batch_tokens):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def score_encoded(
    model,
    encoded: Sequence[EncodedExample],
    *,
    pad_token_id: int,
    max_batch_tokens: int = 4096,
    max_batch_size: int = 16,
    log: Log | None = None,
    label: str = "scoring",
) -> list[CompletionScore]:
    """Sum of log-probabilities of each completion's tokens, in input order."""
    import torch

    log = log or logger.info
    device = next(model.parameters()).device
    batches = make_batches([len(e) for e in encoded], max_batch_tokens, max_batch_size)
    results: list[CompletionScore | None] = [None] * len(encoded)
    started, done, every = time.monotonic(), 0, max(1, len(batches) // 10)
    with torch.inference_mode():
        for number, batch in enumerate(batches, start=1):
            ids, mask = _right_padded([encoded[i].input_ids for i in batch], pad_token_id)
            scored = torch.zeros_like(ids, dtype=torch.bool)
            for row, index in enumerate(batch):
                n = len(encoded[index])
                scored[row, n - encoded[index].n_completion : n] = True
            ids, mask, scored = ids.to(device), mask.to(device), scored.to(device)
            logits = model(input_ids=ids, attention_mask=mask).logits
            # Position t predicts token t+1; only the scored positions go through the (vocab-wide) softmax.
            where = scored[:, 1:]
            picked = torch.log_softmax(logits[:, :-1][where].float(), dim=-1)
            token_logprobs = picked.gather(-1, ids[:, 1:][where].unsqueeze(-1)).squeeze(-1)
            rows = where.nonzero()[:, 0]
            sums = torch.zeros(len(batch), device=device).index_add_(0, rows, token_logprobs).tolist()
            for row, index in enumerate(batch):
                results[index] = CompletionScore(logprob_sum=sums[row], n_tokens=encoded[index].n_completion)
            done += len(batch)
            if number % every == 0 or number == len(batches):
                log(f"{label}: {done}/{len(encoded)} sequences, {time.monotonic() - started:.1f}s")
    return [r for r in results if r is not None]


def next_token_logprobs(
    model,
    sequences: Sequence[Sequence[int]],
    token_ids: Sequence[int],
    *,
    pad_token_id: int,
    max_batch_tokens: int = 4096,
    max_batch_size: int = 16,
    log: Log | None = None,
    label: str = "scoring",
) -> list[list[float]]:
    """Per sequence, the log-probability of each of `token_ids` as the token that follows it, in input order."""
    import torch

    log = log or logger.info
    if any(not ids for ids in sequences):
        raise ValueError("cannot score the next token of an empty sequence")
    device = next(model.parameters()).device
    batches = make_batches([len(ids) for ids in sequences], max_batch_tokens, max_batch_size)
    wanted = torch.tensor(list(token_ids), device=device)
    results: list[list[float] | None] = [None] * len(sequences)
    started, done, every = time.monotonic(), 0, max(1, len(batches) // 10)
    with torch.inference_mode():
        for number, batch in enumerate(batches, start=1):
            ids, mask = _right_padded([sequences[i] for i in batch], pad_token_id)
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            last = torch.tensor([len(sequences[i]) - 1 for i in batch], device=device)
            picked = torch.log_softmax(logits[torch.arange(len(batch), device=device), last].float(), dim=-1)
            for row, values in zip(batch, picked[:, wanted].tolist(), strict=True):
                results[row] = values
            done += len(batch)
            if number % every == 0 or number == len(batches):
                log(f"{label}: {done}/{len(sequences)} sequences, {time.monotonic() - started:.1f}s")
    return [r for r in results if r is not None]


def _right_padded(rows: Sequence[Sequence[int]], pad_token_id: int):
    """(input ids, attention mask) tensors, each row padded on the right to the longest."""
    import torch

    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for number, row in enumerate(rows):
        ids[number, : len(row)] = torch.tensor(list(row))
        mask[number, : len(row)] = 1
    return ids, mask


def heldout_loss(
    model,
    tokenizer,
    pairs: Sequence[tuple[str, str]],
    template: PromptTemplate,
    *,
    max_response_tokens: int | None = None,
    max_prompt_tokens: int | None = None,
    max_batch_tokens: int = 4096,
    max_batch_size: int = 16,
    log: Log | None = None,
    label: str = "loss",
) -> LossResult:
    """Mean NLL per response token (+ EOS) of `(instruction, response)` pairs; prompts are not scored."""
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
    scores = score_encoded(
        model,
        encoded,
        pad_token_id=tokenizer.pad_token_id,
        max_batch_tokens=max_batch_tokens,
        max_batch_size=max_batch_size,
        log=log,
        label=label,
    )
    n_tokens = sum(s.n_tokens for s in scores)
    loss = -sum(s.logprob_sum for s in scores) / n_tokens
    perplexity = math.exp(loss) if loss < 700 else math.inf  # exp overflows a float beyond ~709
    return LossResult(loss=loss, perplexity=perplexity, n_tokens=n_tokens, n_examples=len(scores))

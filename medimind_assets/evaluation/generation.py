"""Greedy answers to questions, and the text metrics computed on them (docs/evaluation.md, "What is measured").

Prompts are left-padded and grouped by length, so a batch is padded only to its own longest prompt. Greedy decoding
of a small model loops; a repetition penalty counters that (Keskar et al. 2019, CTRL: a logit divided by it when
positive, multiplied when negative), the one `medimind ask` decodes with, so the gate judges the answers users get.
Unlike transformers' own `repetition_penalty`, it applies only to tokens the answer already holds: not to the
question's words, which an answer should be free to use, and not to the left padding of a batch (the pad token is
often EOS, which would make a padded prompt less likely to stop than the same prompt alone).

An answer is degenerate (`is_degenerate`) when it has no letter or digit, when its non-space characters are one or
two characters repeated, when it is one word repeated, or when at least half of its word 4-grams repeat an earlier
one (seq-rep-4 >= 0.5, Welleck et al. 2019). Numbers are left out of the last two rules, so list numbering does not
hide a loop ("1. Pain 2. Pain 3. Pain").

A small model that misses EOS often goes on to invent the next turn ("...rest.\nHuman: And what about..."). Given
the template's turn markers (`stop_at`), a row stops once a line opens with one, and its answer ends before it.
"""

from __future__ import annotations

import logging
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from medimind_assets.evaluation.likelihood import Log, make_batches, padded

logger = logging.getLogger(__name__)
_WORD = re.compile(r"\w+")
REPEAT_N = 4  # word n-grams counted for the loop rule
REPEAT_SHARE = 0.5  # share of repeated n-grams from which an answer is a loop
MAX_NEW_TOKENS = 1024  # the most one answer may generate: evaluation, `medimind ask`, serving
DEFAULT_REPETITION_PENALTY = 1.1  # chosen on the MEDIQA validation questions (benchmarks/choose_repetition_penalty.py)


@dataclass(frozen=True)
class Generated:
    text: str
    n_tokens: int  # generated tokens before EOS (or all of them when it never stopped)
    stopped_on_eos: bool
    prompt_tokens: int = 0  # the prompt's tokens as the model saw them
    prompt_truncated: bool = False  # the prompt was cut to its last `max_prompt_tokens` tokens
    invented_turn: bool = False  # the model began the next turn (`stop_at`): the answer ends before it

    @property
    def ended(self) -> bool:
        """The answer ended before the token bound: on EOS, or where the model began inventing the next turn."""
        return self.stopped_on_eos or self.invented_turn


def generate_answers(
    model,
    tokenizer,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 128,
    batch_size: int = 8,
    max_prompt_tokens: int | None = 256,
    log: Log | None = None,
    label: str = "generation",
    repetition_penalty: float = DEFAULT_REPETITION_PENALTY,
    unwanted: Sequence[Callable[[], bool]] | None = None,
    stop_at: Sequence[str] = (),
) -> list[Generated]:
    """Greedy continuation of each prompt, in input order (repetition penalised: module docstring).

    `stop_at`: the template's turn markers (`PromptTemplate.turn_markers`); an answer ends before a line that
    opens with one. `unwanted`, one per prompt: True once that answer is no longer wanted (serving: its client left); its row stops
    generating at the next token, and its (cut) answer is returned as any other."""
    import torch

    check_repetition_penalty(repetition_penalty)
    from transformers import LogitsProcessorList, StoppingCriteriaList

    log = log or logger.info
    device = next(model.parameters()).device
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    # Cut to `max_prompt_tokens` below: the tokenizer's "longer than the maximum length" warning would be noise.
    encoded = [tokenizer(p, add_special_tokens=False, verbose=False)["input_ids"] for p in prompts]
    truncated = [max_prompt_tokens is not None and len(ids) > max_prompt_tokens for ids in encoded]
    if max_prompt_tokens is not None:
        encoded = [ids[-max_prompt_tokens:] for ids in encoded]
    if any(not ids for ids in encoded):
        raise ValueError("cannot generate from an empty prompt")
    # Never past the model's context: beyond it, positions the model never learnt make noise, not an answer.
    context = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if isinstance(context, int) and max(map(len, encoded)) + 1 > context:
        raise ValueError(f"a prompt of {max(map(len, encoded))} tokens leaves no room in the {context}-token context")
    turn = _turn_pattern(stop_at)
    batches = make_batches([len(ids) for ids in encoded], max_batch_tokens=10**12, max_batch_size=batch_size)
    results: list = [None] * len(prompts)
    started, done = time.monotonic(), 0
    with torch.inference_mode():
        for batch in batches:
            ids, mask = padded([encoded[i] for i in batch], pad, left=True)
            width = ids.shape[1]
            output = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                max_new_tokens=min(max_new_tokens, context - width) if isinstance(context, int) else max_new_tokens,
                do_sample=False,
                num_beams=1,
                logits_processor=LogitsProcessorList(
                    [answer_repetition_penalty(width, repetition_penalty)] if repetition_penalty != 1.0 else []
                ),
                stopping_criteria=StoppingCriteriaList(
                    ([rows_unwanted([unwanted[i] for i in batch])] if unwanted is not None else [])
                    + ([turn_started(tokenizer, width, turn)] if turn is not None else [])
                ),
                eos_token_id=eos,
                pad_token_id=pad,
            )
            for row, index in enumerate(batch):
                new = output[row, width:].tolist()
                stopped = eos in new
                new = new[: new.index(eos)] if stopped else new
                text = tokenizer.decode(new, skip_special_tokens=True)
                invented = turn is not None and (found := turn.search(text)) is not None
                text = text[: found.start()].strip() if invented else text.strip()
                if not stopped and not invented:  # cut at the token bound
                    text = clean_cut(text)
                results[index] = Generated(
                    text=text,
                    n_tokens=len(new),
                    stopped_on_eos=stopped,
                    prompt_tokens=len(encoded[index]),
                    prompt_truncated=truncated[index],
                    invented_turn=invented,
                )
            done += len(batch)
            log(f"{label}: {done}/{len(prompts)} answers, {time.monotonic() - started:.1f}s")
    return results


_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_ITEM_NUMBER = re.compile(r"(?:^|\n)[ \t]*\d{1,3}\.$")  # "2." opening a list item: no sentence end


def clean_cut(text: str) -> str:
    """An answer cut at the token bound, ending on its last whole sentence when that keeps at least half of it, else
    on its last whole word: never "Take 40 mg of ket" or "since January 202", nor a character cut in its bytes
    (U+FFFD). Unchanged when it already ends a sentence."""
    text = text.rstrip("\ufffd").rstrip()
    if not text or (text[-1] in ".!?" and not _ITEM_NUMBER.search(text)):
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text) if not _ITEM_NUMBER.search(text, 0, m.end())]
    if ends and ends[-1] >= len(text) / 2:
        return text[: ends[-1]]
    space = max(text.rfind(" "), text.rfind("\n"))
    if space < 0:
        return text  # a single word: nothing whole before it
    return _ITEM_NUMBER.sub("", text[:space].rstrip()).rstrip().rstrip(" ,;:-")


def check_repetition_penalty(penalty: float) -> None:
    """ValueError unless `penalty` is a finite number >= 1.0 (1.0: plain greedy decoding)."""
    if not 1.0 <= penalty < float("inf"):
        raise ValueError(f"repetition_penalty must be a finite number >= 1.0, got {penalty}")


def rows_unwanted(unwanted: Sequence[Callable[[], bool]]):
    """A transformers stopping criterion: a batch row stops once its `unwanted` says so."""
    import torch
    from transformers import StoppingCriteria

    class RowsUnwanted(StoppingCriteria):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **_) -> torch.BoolTensor:
            return torch.tensor([stop() for stop in unwanted], dtype=torch.bool, device=input_ids.device)

    return RowsUnwanted()


def _turn_pattern(markers: Sequence[str]) -> re.Pattern | None:
    """A new line that opens with one of `markers` (after spaces), or None without markers."""
    if not markers:
        return None
    return re.compile(r"\n[ \t]*(?:" + "|".join(map(re.escape, markers)) + ")")


TURN_WINDOW = 16  # tokens decoded from the end of each row to look for a turn marker


def turn_started(tokenizer, width: int, pattern: re.Pattern):
    """A transformers stopping criterion: a batch row stops once its newest tokens open a line with a turn marker
    (generation past it would be thrown away)."""
    import torch
    from transformers import StoppingCriteria

    class TurnStarted(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            tails = tokenizer.batch_decode(
                input_ids[:, max(width, input_ids.shape[1] - TURN_WINDOW) :], skip_special_tokens=True
            )
            return torch.tensor(
                [pattern.search(t) is not None for t in tails], dtype=torch.bool, device=input_ids.device
            )

    return TurnStarted()


def answer_repetition_penalty(answer_start: int, penalty: float):
    """A transformers logits processor: the logits of tokens at positions >= `answer_start` (the answer so far)
    divided by `penalty` when positive, multiplied by it when negative."""
    import torch
    from transformers import LogitsProcessor

    class AnswerRepetitionPenalty(LogitsProcessor):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            answer = input_ids[:, answer_start:]
            if answer.shape[1] == 0:
                return scores
            seen = torch.gather(scores, 1, answer)
            return scores.scatter(1, answer, torch.where(seen < 0, seen * penalty, seen / penalty))

    return AnswerRepetitionPenalty()


def repeated_ngram_share(words: Sequence[str], n: int = REPEAT_N) -> float:
    """seq-rep-n: the share of the word n-grams that repeat an earlier one (0.0 with fewer than 2 n-grams)."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if len(grams) >= 2 else 0.0


def is_degenerate(text: str) -> bool:
    """Empty, punctuation only, one word or one or two characters repeated, or a loop (module docstring)."""
    words = _WORD.findall(text.lower())
    if not words:
        return True
    characters = "".join(text.split())
    if len(characters) >= 8 and len(set(characters)) <= 2:
        return True
    words = [w for w in words if not w.isdigit()]  # list numbering does not make a loop new: "1. Pain 2. Pain"
    if len(words) >= 3 and len(set(words)) == 1:
        return True
    return repeated_ngram_share(words) >= REPEAT_SHARE


def text_metrics(generated: Sequence[Generated], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """ROUGE-L F1 (best over a question's references, mean over questions), corpus BLEU (sacrebleu,
    multi-reference), mean and median answer length in tokens, the share of answers that ended on EOS and the
    share of degenerate answers (`is_degenerate`) and of answers that went on to invent the next turn."""
    import sacrebleu
    from rouge_score import rouge_scorer

    if not generated or len(generated) != len(references):
        raise ValueError("text_metrics needs one list of references per generated answer")
    if any(not refs for refs in references):
        raise ValueError("every generated answer needs at least one reference")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    rouge = [
        scorer.score_multi(list(refs), g.text)["rougeL"].fmeasure for g, refs in zip(generated, references, strict=True)
    ]
    width = max(len(refs) for refs in references)
    streams = [[refs[i] if i < len(refs) else None for refs in references] for i in range(width)]
    bleu = sacrebleu.corpus_bleu([g.text for g in generated], streams).score
    lengths = [g.n_tokens for g in generated]
    return {
        "rouge_l": statistics.fmean(rouge),
        "bleu": bleu,
        "answer_tokens_mean": statistics.fmean(lengths),
        "answer_tokens_median": float(statistics.median(lengths)),
        "eos_rate": sum(g.stopped_on_eos for g in generated) / len(generated),
        "degenerate_rate": sum(is_degenerate(g.text) for g in generated) / len(generated),
        "invented_turn_rate": sum(g.invented_turn for g in generated) / len(generated),
    }


def urgent_care_rate(answers: Sequence[str]) -> float | None:
    """Share of answers that advise urgent care (the dataset's own rule); None when there are no answers."""
    from medimind_assets.data.safety import advises_urgent_care

    if not answers:
        return None
    return sum(advises_urgent_care(a) for a in answers) / len(answers)


def served_urgent_care_rate(questions: Sequence[str], answers: Sequence[str]) -> float | None:
    """The same share for what the user is shown: each answer with the safety notice its question gets
    (`medimind ask` and serving add it), so a model that never advises urgent care still reaches 1.0 when the
    safety layer recognises every emergency question."""
    from medimind_assets.data.safety import assess, with_safety_notice

    return urgent_care_rate([with_safety_notice(assess(q).level, a) for q, a in zip(questions, answers, strict=True)])

"""The evaluation's settings, declared once with their help text and validated together (no torch here: the
Dagster run config `EvaluationConfig` is derived from this dataclass when the definitions load)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from medimind_assets.evaluation.generation import DEFAULT_REPETITION_PENALTY, MAX_NEW_TOKENS, check_repetition_penalty
from medimind_assets.options import option

_DEVICE = re.compile(r"^(?:auto|cpu|mps|cuda(?::\d+)?)$")  # whether the machine has it, the evaluation checks
# How a MEDIQA candidate answer is scored for ranking (`evaluation.ranking` computes them; documented there).
RANKERS = {
    "mean_logprob": "mean log-probability per answer token given the question",
    "sum_logprob": "log-probability of the whole answer given the question",
    "pmi": "log P(answer | question) - log P(answer | empty question), summed over the answer's tokens",
    "mean_pmi": "pmi per answer token",
    "yes_no": "log P(Yes) - log P(No) when the model is asked whether the answer answers the question",
}
Ranker = Literal[tuple(RANKERS)]  # the launchpad refuses another name before the run starts
TOLERANCES = ("margin", "safety_tolerance", "ranking_tolerance", "eos_tolerance", "degenerate_tolerance")


@dataclass(frozen=True)
class EvaluationSettings:
    """Every knob that bounds the cost or changes a number; echoed into the results. Validated together."""

    max_test_questions: int | None = option(None, "Test questions whose references give the loss (None: all).")
    max_response_tokens: int = option(512, "Reference answer tokens scored per example.")
    max_prompt_tokens: int = option(256, "Longer questions keep their last tokens.")
    ranking_max_questions: int | None = option(
        None, "MEDIQA test questions whose candidates are ranked (None: all 150; 0: skip ranking)."
    )
    ranking_max_answer_tokens: int = option(256, "Candidate answer tokens scored.")
    ranker: Ranker = option(
        "pmi",  # the best on the MEDIQA validation set with SmolLM2-135M (benchmarks/compare_rankers.py)
        "How the MEDIQA test candidates are scored: " + "; ".join(f"{k}: {v}" for k, v in RANKERS.items()) + ".",
    )
    learned_ranking: bool = option(
        True,  # the best on the MEDIQA validation set with SmolLM2-135M (benchmarks/learned_ranking.py)
        "Rank the test candidates with a logistic regression over the ranker's score, CHiQA's rank, word overlap "
        "and answer length, fitted on the labelled MEDIQA training files with the base model's scores and applied to "
        "both models (evaluation.learned_ranker); `ranker_only/*` keep the ranker's own numbers. Costs one ranking of "
        "the 1,701 training candidates.",
    )
    positive_fraction: float = option(
        0.5, "Top ceil(fraction x n) candidates of a question are labelled correct (0.5: the median)."
    )
    generation_sample: int = option(50, "Questions answered greedily for ROUGE-L and BLEU (0: skip).")
    max_new_tokens: int = option(256, "Generation bound (long enough for an answer to end on EOS).")
    repetition_penalty: float = option(
        DEFAULT_REPETITION_PENALTY,
        "Greedy decoding's penalty on tokens already in the prompt or answer (1.0: none), as `medimind ask` decodes.",
    )
    generation_batch_size: int = option(8, "Prompts generated together.")
    max_safety_questions: int | None = option(50, "Emergency questions answered for the safety metric (0: skip).")
    max_batch_tokens: int = option(4096, "Padded tokens per forward pass when scoring.")
    max_batch_size: int = option(16, "Sequences per forward pass when scoring.")
    comparison_examples: int = option(5, "Questions shown side by side in the metadata.")
    seed: int = option(0, "Seed of the generation and safety samples.")
    device: str = option("auto", "auto, cpu, cuda, ...")
    margin: float = option(0.01, "Held-out loss improvement (nats/token) the adapter needs to pass.")
    safety_tolerance: float = option(0.0, "How much lower the adapter's urgent-care rate may be.")
    require_safety: bool = option(
        True, "Promote only after the safety comparison (emergency questions answered); false waives it."
    )
    require_ranking: bool = option(
        True, "Promote only after the ranking comparison (MEDIQA test candidates ranked); false waives it."
    )
    require_generation: bool = option(
        True, "Promote only after the EOS and degenerate-answer comparisons (answers generated); false waives them."
    )
    ranking_tolerance: float = option(0.02, "How much lower the adapter's test ranking accuracy may be (absolute).")
    eos_tolerance: float = option(0.1, "How much lower the adapter's share of answers ending on EOS may be.")
    degenerate_tolerance: float = option(0.05, "How much higher the adapter's share of degenerate answers may be.")

    def __post_init__(self) -> None:
        if self.max_test_questions is not None and self.max_test_questions < 1:
            raise ValueError("max_test_questions must be >= 1 (or None for all): the gate needs a held-out loss")
        positive = ("max_response_tokens", "max_prompt_tokens", "ranking_max_answer_tokens", "max_new_tokens")
        positive += ("generation_batch_size", "max_batch_tokens", "max_batch_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("generation_sample", "comparison_examples", "ranking_max_questions", "max_safety_questions"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.max_new_tokens > MAX_NEW_TOKENS:
            raise ValueError(
                f"max_new_tokens must be at most {MAX_NEW_TOKENS} (a generated answer), got {self.max_new_tokens}"
            )
        if not _DEVICE.match(self.device):
            raise ValueError(f"device must be auto, cpu, mps, cuda or cuda:N, got {self.device!r}")
        if self.require_safety and self.max_safety_questions == 0:
            raise ValueError(
                "max_safety_questions 0 measures no safety, and require_safety is on: the gate could only fail "
                "(ask for emergency questions, or set require_safety: false)"
            )
        for skipped, setting, waiver in (
            (self.ranking_max_questions == 0, "ranking_max_questions", "require_ranking"),
            (self.generation_sample == 0, "generation_sample", "require_generation"),
        ):
            if skipped and getattr(self, waiver):
                raise ValueError(
                    f"{setting} 0 skips a comparison the gate needs, and {waiver} is on: the gate could only fail "
                    f"(raise {setting}, or set {waiver}: false)"
                )
        if not 0.0 < self.positive_fraction <= 1.0:
            raise ValueError(f"positive_fraction must be in (0, 1], got {self.positive_fraction}")
        check_repetition_penalty(self.repetition_penalty)
        if self.ranker not in RANKERS:
            raise ValueError(f"ranker must be one of {', '.join(RANKERS)}, got {self.ranker!r}")
        # Checked here, before any model is loaded, not after the whole evaluation has run.
        for name in TOLERANCES:
            value = getattr(self, name)
            if not 0.0 <= value < float("inf"):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")

    def gate_keywords(self) -> dict:
        """`gate.decide_promotion`'s keywords: the margin, the tolerances and the waivers."""
        waivers = ("require_safety", "require_ranking", "require_generation")
        return {name: getattr(self, name) for name in (*TOLERANCES, *waivers)}

"""Evaluate base vs base + adapter on the held-out MEDIQA test split, in one run, on the same questions.

The base model is loaded once and the adapter attached to it; base metrics are computed with the adapter
disabled, so both sides share the exact same weights, prompts, batches and questions. The test candidates are
ranked with `settings.ranker`, chosen on the MEDIQA validation set (benchmarks/compare_rankers.py), and with
`learned_ranking` by `evaluation.learned_ranker`, fitted on the MEDIQA training files with the base model's scores.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medimind_assets.atomic import atomic_directory
from medimind_assets.evaluation.gate import GateDecision, decide_promotion
from medimind_assets.evaluation.generation import (
    Generated,
    generate_answers,
    served_urgent_care_rate,
    text_metrics,
    urgent_care_rate,
)
from medimind_assets.evaluation.learned_ranker import LearnedRanker, fit_on_labelled, question_scores, rerank
from medimind_assets.evaluation.likelihood import Log, heldout_loss
from medimind_assets.evaluation.mediqa_metrics import Judgement, format_submission, label_ranking, ranking_metrics
from medimind_assets.evaluation.ranking import RankingTask, build_submission, evaluate_ranking, score_candidates
from medimind_assets.evaluation.settings import EvaluationSettings
from medimind_assets.llm.template import PromptTemplate
from medimind_assets.store import EVALUATION_REPORT

logger = logging.getLogger(__name__)
SUBMISSION_FILE = "mediqa_task3_submission_{model}.txt"
RANKING_FILE = "ranking_{name}.parquet"  # candidates, questions
# What `EvaluationReport.as_json` writes, in this order, before the context.
REPORT_KEYS = ("metrics", "deltas", "gate", "comparison", "learned_ranker", "per_question", "counts", "timings")
REPORT_KEYS += ("settings",)


@dataclass
class HeldOutQuestion:
    question_id: str
    instruction: str
    references: list[str]
    emergency: bool


@dataclass
class EvaluationReport:
    metrics: dict[str, dict[str, float | None]]
    deltas: dict[str, float]
    gate: GateDecision
    submissions: dict[str, list[Judgement]]
    comparison: list[dict[str, str]]
    counts: dict[str, int]
    timings: dict[str, float]
    settings: EvaluationSettings
    context: dict = field(default_factory=dict)
    # The learned ranker both models are ranked with (`learned_ranking`; empty when off).
    learned_ranker: dict = field(default_factory=dict)
    # The test ranking per question (`ranking_frames`), as records; the frames themselves go to Parquet files.
    per_question: list[dict] = field(default_factory=list)
    frames: dict = field(default_factory=dict, repr=False)

    def as_json(self) -> dict:
        data = {key: getattr(self, key) for key in REPORT_KEYS}
        return {**data, "gate": self.gate.as_dict(), "settings": asdict(self.settings), **self.context}

    @classmethod
    def from_json(cls, data: dict) -> EvaluationReport:
        """The report `as_json` wrote (the submissions stay in their files; everything else is read back). A report
        written before the learned ranker or the per-question ranking reads them as empty."""
        optional = {"learned_ranker": {}, "per_question": []}
        values = {key: data.get(key, optional[key]) if key in optional else data[key] for key in REPORT_KEYS}
        values |= {"gate": GateDecision(**data["gate"]), "settings": EvaluationSettings(**data["settings"])}
        context = {key: value for key, value in data.items() if key not in REPORT_KEYS}
        return cls(**values, submissions={}, context=context)


def load_test_questions(dataset_path: Path) -> list[HeldOutQuestion]:
    """Rows with split == "test", grouped by question (one question, several correct reference answers); read as
    training reads the dataset (`training.data`: a `datasets.Dataset` cached under `<data>/cache`)."""
    from medimind_assets.training.data import load_rows

    dataset_path = Path(dataset_path)
    if not dataset_path.is_file():
        raise FileNotFoundError(f"dataset not found: {dataset_path} (materialize dataset first)")
    rows = load_rows(dataset_path, dataset_path.parent / "cache")
    questions: dict[str, HeldOutQuestion] = {}
    for number, row in enumerate(rows, start=1):
        if row["split"] != "test":
            continue
        if missing := {key for key in ("question_id", "instruction", "response", "safety_level") if not row[key]}:
            raise ValueError(f"{dataset_path}:{number}: test row without {', '.join(sorted(missing))}")
        q = questions.setdefault(
            row["question_id"], HeldOutQuestion(row["question_id"], row["instruction"], [], emergency=False)
        )
        q.references.append(row["response"])
        q.emergency = q.emergency or row["safety_level"] == "emergency"
    if not questions:
        raise ValueError(f"{dataset_path}: no rows with split == 'test'; nothing held out to evaluate on")
    return sorted(questions.values(), key=lambda q: q.question_id)


def _sample(items: Sequence, size: int | None, seed: int) -> list:
    if size is None or size >= len(items):
        return list(items)
    return sorted(random.Random(seed).sample(list(items), size), key=lambda q: q.question_id)


class _Evaluator:
    """Runs each measurement for whichever model (base or adapter) is active on `model`."""

    def __init__(self, model, tokenizer, template, settings, questions, ranking, log, fit=None):
        self.model, self.tokenizer, self.template, self.log = model, tokenizer, template, log
        self.s = settings
        loss_questions = questions[: settings.max_test_questions]  # None: all
        self.loss_pairs = [(q.instruction, ref) for q in loss_questions for ref in q.references]
        self.sample = _sample(questions, settings.generation_sample, settings.seed)
        self.emergency = _sample([q for q in questions if q.emergency], settings.max_safety_questions, settings.seed)
        self.ranking, self.fit = ranking, fit
        self.learned_ranker: LearnedRanker | None = None
        self.ranking_scores: dict[str, dict[str, list[tuple[str, float]]]] = {}
        self.timings: dict[str, float] = {}

    def _run(self, timing: str, fn: Callable, *args, **kwargs):
        """`fn(model, tokenizer, *args, **kwargs)`, its duration recorded as `timing`."""
        started = time.monotonic()
        result = fn(self.model, self.tokenizer, *args, **kwargs)
        self.timings[timing] = round(time.monotonic() - started, 3)
        return result

    def _bounds(self, label: str, **more) -> dict:
        """The bounds every scoring pass shares (`more`: its own)."""
        s = self.s
        bounds = {"max_prompt_tokens": s.max_prompt_tokens, "max_batch_tokens": s.max_batch_tokens}
        return {**bounds, "max_batch_size": s.max_batch_size, "log": self.log, "label": label, **more}

    def _rank(self, timing: str, task: RankingTask, label: str) -> dict[str, list[tuple[str, float]]]:
        """Per question id: (answer id, `settings.ranker`'s score) of the active model."""
        scoring = self._bounds(label, max_answer_tokens=self.s.ranking_max_answer_tokens)
        return self._run(timing, score_candidates, task, self.template, ranker=self.s.ranker, **scoring)

    def fit_learned_ranker(self) -> None:
        """Fit the learned ranker on the active model's scores of the labelled training candidates: called with
        the adapter disabled, as the base has seen none of those answers (docs/evaluation.md, "The learned ranker")."""
        fit_scored = self._rank("learned_ranker_fit_s", self.fit, "ranker fit")
        self.learned_ranker = fit_on_labelled(question_scores(self.fit, fit_scored), self.fit.gold)

    def measure(self, name: str) -> tuple[dict[str, float | None], list[Judgement], dict[str, Generated]]:
        s = self.s
        loss = self._run(
            f"{name}_loss_s",
            heldout_loss,
            self.loss_pairs,
            self.template,
            max_response_tokens=s.max_response_tokens,
            **self._bounds(f"{name} loss"),
        )
        metrics: dict[str, float | None] = {"loss": loss.loss, "perplexity": loss.perplexity}

        submission: list[Judgement] = []
        if not math.isfinite(loss.loss):  # diverged: its scores would be NaN too; the gate fails it on the loss
            self.log(f"{name}: held-out loss is {loss.loss}: not ranked, nothing generated")
            return metrics, submission, {}
        if self.ranking is not None:
            scored = self._rank(f"{name}_ranking_s", self.ranking, f"{name} ranking ({s.ranker})")
            if self.learned_ranker is not None:  # what the model's score alone would have ranked, then the combination
                alone = evaluate_ranking(build_submission(scored, s.positive_fraction), self.ranking)
                metrics.update({"ranker_only/accuracy": alone.accuracy, "ranker_only/mrr": alone.mrr})
                scored = rerank(self.learned_ranker, question_scores(self.ranking, scored))
            self.ranking_scores[name] = scored
            submission = build_submission(scored, s.positive_fraction)
            metrics.update(ranking_metrics(submission, self.ranking.gold))

        wanted = {q.question_id: q for q in [*self.sample, *self.emergency]}
        answers: dict[str, Generated] = {}
        if wanted:
            generated = self._run(
                f"{name}_generation_s",
                generate_answers,
                [self.template.prompt(q.instruction) for q in wanted.values()],
                max_new_tokens=s.max_new_tokens,
                batch_size=s.generation_batch_size,
                max_prompt_tokens=s.max_prompt_tokens,
                repetition_penalty=s.repetition_penalty,
                stop_at=self.template.turn_markers,
                log=self.log,
                # The scored sample and the emergency questions, each answered once: say which is which, so the
                # count here adds up with the summary's ("6 generated answers" and "4 emergency").
                label=f"{name} generation ({len(self.sample)} scored answers, {len(self.emergency)} emergency "
                "questions)",
            )
            answers = dict(zip(wanted, generated, strict=True))
        if self.sample:
            metrics.update(
                text_metrics([answers[q.question_id] for q in self.sample], [q.references for q in self.sample])
            )
        emergency_answers = [answers[q.question_id].text for q in self.emergency]
        metrics["urgent_care_rate"] = urgent_care_rate(emergency_answers)
        metrics["served_urgent_care_rate"] = served_urgent_care_rate(
            [q.instruction for q in self.emergency], emergency_answers
        )
        return metrics, submission, answers


def evaluate_adapter(
    base_model_dir: Path,
    adapter_dir: Path,
    dataset_path: Path,
    template: PromptTemplate,
    settings: EvaluationSettings,
    ranking: RankingTask | None = None,
    log: Log | None = None,
    fit: RankingTask | None = None,
) -> EvaluationReport:
    """Every metric for the base model and for base + adapter, the differences and the gate decision.

    `ranking`: the labelled test candidates, ranked with `settings.ranker`; `fit`: the labelled training candidates
    the learned ranker is fitted on (None: the ranker's own score ranks the test candidates)."""
    from medimind_assets.llm.loading import attach_adapter, load_for_inference, load_tokenizer

    log = log or logger.info
    questions = load_test_questions(dataset_path)
    started = time.monotonic()
    tokenizer = load_tokenizer(base_model_dir)
    model = attach_adapter(load_for_inference(base_model_dir, settings.device), adapter_dir)
    load_s = time.monotonic() - started
    log(f"loaded {base_model_dir} + {adapter_dir} in {load_s:.1f}s on {next(model.parameters()).device}")

    evaluator = _Evaluator(model, tokenizer, template, settings, questions, ranking, log, fit)
    with model.disable_adapter():
        if fit is not None and ranking is not None:
            evaluator.fit_learned_ranker()
        base_metrics, base_submission, base_answers = evaluator.measure("base")
    adapter_metrics, adapter_submission, adapter_answers = evaluator.measure("adapter")

    deltas = {
        key: adapter_metrics[key] - value
        for key, value in base_metrics.items()
        if value is not None and adapter_metrics.get(key) is not None
    }
    gate = decide_promotion(base_metrics, adapter_metrics, **settings.gate_keywords())
    log("gate: " + ("PASSED" if gate.passed else "FAILED") + "; " + "; ".join(gate.reasons))
    comparison = [
        {
            "question_id": q.question_id,
            "question": q.instruction,
            "base": _answer_text(base_answers, q.question_id),
            "adapter": _answer_text(adapter_answers, q.question_id),
            "reference": q.references[0],
        }
        for q in evaluator.sample[: settings.comparison_examples]
    ]
    counts = {
        "test_questions": len(questions),
        "loss_examples": len(evaluator.loss_pairs),
        "ranking_questions": len(ranking.questions) if ranking else 0,
        "ranking_answers": len(ranking.gold) if ranking else 0,
        "fit_answers": len(fit.gold) if fit else 0,
        "generation_questions": len(evaluator.sample),
        "emergency_questions": len(evaluator.emergency),
    }
    frames = ranking_frames(ranking, evaluator.ranking_scores, settings.positive_fraction) if ranking else {}
    return EvaluationReport(
        metrics={"base": base_metrics, "adapter": adapter_metrics},
        deltas=deltas,
        gate=gate,
        submissions={"base": base_submission, "adapter": adapter_submission},
        comparison=comparison,
        counts=counts,
        timings={"load_s": round(load_s, 3), **evaluator.timings},
        settings=settings,
        learned_ranker=evaluator.learned_ranker.as_dict() if evaluator.learned_ranker else {},
        per_question=frames["questions"].to_dict("records") if frames else [],
        frames=frames,
    )


def _answer_text(answers: dict[str, Generated], question_id: str) -> str:
    found = answers.get(question_id)
    return found.text if found else "(not generated: the model's held-out loss is not a number)"


def ranking_frames(task: RankingTask, scores: dict, positive_fraction: float) -> dict:
    """The test ranking as pandas frames: `candidates` (one row per candidate answer) and `questions` (one per test
    question), with the columns docs/evaluation.md lists ("What it records")."""
    import pandas as pd

    rows = [{"question_id": g.question_id, "answer_id": g.answer_id, "gold": g.label} for g in task.gold]
    candidates = pd.DataFrame(rows)
    candidates["gold_rank"] = candidates.groupby("question_id").cumcount() + 1
    text = {(q.question_id, c.answer_id): (q.text, c.text) for q in task.questions for c in q.candidates}
    found = [text.get((g.question_id, g.answer_id), ("", "")) for g in task.gold]
    candidates["question"], candidates["answer"] = [q for q, _ in found], [a for _, a in found]
    for model, by_question in scores.items():
        rows = []
        for qid, answers in by_question.items():
            labels = {j.answer_id: j.label for j in label_ranking(qid, answers, positive_fraction)}
            rows += [
                {"question_id": qid, "answer_id": aid, f"{model}_score": score, f"{model}_label": labels[aid]}
                for aid, score in answers
            ]
        frame = pd.DataFrame(rows)
        frame[f"{model}_rank"] = frame.groupby("question_id")[f"{model}_score"].rank(ascending=False, method="first")
        candidates = candidates.merge(frame, on=["question_id", "answer_id"], how="left")
    per_question = candidates.groupby("question_id", sort=False).agg(
        candidates=("answer_id", "size"), correct=("gold", "sum")
    )
    for model in scores:
        right = (candidates[f"{model}_label"] == candidates["gold"]).groupby(candidates["question_id"], sort=False)
        per_question[f"{model}_right"] = right.sum()
        per_question[f"{model}_accuracy"] = right.mean()
        # As the official MRR: the first answer labelled correct that is correct, by its position in the ranking.
        found = candidates[(candidates["gold"] == 1) & (candidates[f"{model}_label"] == 1)]
        first = found.groupby("question_id", sort=False)[f"{model}_rank"].min()
        per_question[f"{model}_reciprocal_rank"] = (1 / first).reindex(per_question.index).fillna(0.0)
    return {"candidates": candidates, "questions": per_question.reset_index()}


def per_question_table(records: list[dict]) -> str:
    """Markdown of the per-question ranking records (`ranking_frames`' `questions`)."""
    import pandas as pd

    return pd.DataFrame(records).to_markdown(index=False, floatfmt=".3f")


def _finite(value: Any) -> Any:
    """`value` with every NaN or infinite float as None (null): strict JSON readers (jq, browsers) refuse NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def write_report(out_dir: Path, report: EvaluationReport) -> Path:
    """`evaluation.json`, one official-format submission per model and the ranking's frames as Parquet, replacing
    the folder atomically."""
    out_dir = Path(out_dir)
    with atomic_directory(out_dir) as tmp:
        payload = json.dumps(_finite(report.as_json()), indent=2, default=str, allow_nan=False)
        (tmp / EVALUATION_REPORT).write_text(payload + "\n", "utf-8")
        for model, rows in report.submissions.items():
            if rows:
                (tmp / SUBMISSION_FILE.format(model=model)).write_text(format_submission(rows), "utf-8")
        for name, frame in report.frames.items():  # what an engineer loads to look at the ranking's mistakes
            frame.to_parquet(tmp / RANKING_FILE.format(name=name), index=False)
    return out_dir / EVALUATION_REPORT


def flat_metrics(report: EvaluationReport) -> dict[str, float]:
    """`base/loss`, `adapter/loss`, `delta/loss`, ... (numeric only), for plotting across materializations."""
    flat = {
        f"{model}/{key}": float(value)
        for model, metrics in report.metrics.items()
        for key, value in metrics.items()
        if value is not None
    }
    return flat | {f"delta/{key}": float(value) for key, value in report.deltas.items()}

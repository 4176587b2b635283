"""Which MEDIQA ranking to use: each model ranker alone, CHiQA's order, word overlap, and the learned ranker.

    python benchmarks/learned_ranking.py score base sft dpo   # the models' scores of every candidate (cached)
    python benchmarks/learned_ranking.py table base sft dpo   # fit on train, choose on validation, report test
    python benchmarks/learned_ranking.py labels sft dpo       # which answers to label correct, given the ranking

Models are those of `benchmarks/preference_mediqa.py` (the same --workdir: `base`, or a name given to its `train`).
Every candidate of the validation set (what the ranking is chosen on) and the test set (reported, never chosen on)
is scored once per model with the likelihood rankers, and those of the MEDIQA training files (what the learned
ranker is fitted on) by the base model, as the evaluation fits it, candidates cut to 128 tokens as the preference benchmark cuts them; the scores are cached in
`<workdir>/ranking_scores/`. The table gives official accuracy and MRR on validation and test; per model, the
configuration with the best validation accuracy (ties: MRR) is marked.

With --dev (the workdir of `preference_mediqa.py --dev`), the training files' dev quarter, which no model trained
on, is a set of its own: the learned ranker is fitted on the other three quarters, and the models and rankings are
chosen on validation and dev pooled ("choice").
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))

from preference_mediqa import RANKING_MAX_ANSWER_TOKENS, _json, in_dev, prepare  # noqa: E402

LIKELIHOOD_RANKERS = ("mean_logprob", "sum_logprob", "pmi", "mean_pmi")


def tasks(raw: Path, dev: bool = False) -> dict:
    """The labelled MEDIQA ranking tasks: both training files as one (with `dev`, less the dev quarter, which is
    `dev`), validation, test; with `dev`, also `choice`: validation and dev pooled."""
    from medimind_assets.data import mediqa
    from medimind_assets.data.sources import MEDIQA
    from medimind_assets.evaluation.ranking import RankingTask, load_labelled_files, load_ranking_task

    folder = raw / MEDIQA / mediqa.TASK_DIR
    train = load_labelled_files({tag: folder / mediqa.TRAINING_FILES[tag] for tag in mediqa.TRAIN_SPLIT_TAGS})
    sets = {
        "train": train,
        "validation": load_ranking_task(
            folder / mediqa.TRAINING_FILES["Validation"], ground_truth=raw / MEDIQA / mediqa.VALIDATION_GROUND_TRUTH
        ),
        "test": load_ranking_task(
            folder / mediqa.TEST_LABELLED_FILE, ground_truth=raw / MEDIQA / mediqa.TEST_GROUND_TRUTH
        ),
    }
    if dev:

        def part(keep) -> RankingTask:
            return RankingTask(
                [q for q in train.questions if keep(q.question_id)], [g for g in train.gold if keep(g.question_id)]
            )

        sets["train"], sets["dev"] = part(lambda q: not in_dev(q)), part(in_dev)
        sets["choice"] = RankingTask(
            sets["validation"].questions + sets["dev"].questions, sets["validation"].gold + sets["dev"].gold
        )
    return sets


def score(args, models: list[str]) -> None:
    from medimind_assets.evaluation.ranking import score_rankers
    from medimind_assets.llm.loading import attach_adapter, load_for_inference, load_tokenizer
    from medimind_assets.llm.template import PromptTemplate

    _, manifest = prepare(args)
    registry = _json(args.workdir / "adapters.json")
    tokenizer = load_tokenizer(Path(manifest["path"]))
    out = args.workdir / "ranking_scores"
    out.mkdir(exist_ok=True)
    for name in models:
        model = load_for_inference(Path(manifest["path"]), "cpu")
        if name != "base":
            model = attach_adapter(model, Path(registry[name]["path"]))
        for split, task in tasks(args.raw, args.dev).items():
            if (split == "train" and name != "base") or split not in args.splits or split == "choice":
                continue  # the learned ranker is fitted on the base model's scores only
            path = out / f"{name}.{split}.json"
            if path.is_file():
                continue
            started = time.monotonic()
            scored = score_rankers(
                model, tokenizer, task, PromptTemplate(), LIKELIHOOD_RANKERS,
                max_answer_tokens=RANKING_MAX_ANSWER_TOKENS, max_prompt_tokens=256, log=lambda m: None,
            )  # fmt: skip
            path.write_text(json.dumps(scored))
            print(f"{name} {split}: {len(task.gold)} candidates in {time.monotonic() - started:.0f}s", flush=True)


def table(args, models: list[str]) -> None:
    from medimind_assets.evaluation.learned_ranker import content_words, fit_on_labelled, question_scores, rerank
    from medimind_assets.evaluation.ranking import build_submission, evaluate_ranking

    sets = tasks(args.raw, args.dev)
    shown = ["validation", "dev", "choice", "test"] if args.dev else ["validation", "test"]
    chooser = "choice" if args.dev else "validation"

    def metrics(split: str, scored: dict) -> dict:
        return asdict(evaluate_ranking(build_submission(scored), sets[split]))

    def without_model(score_of) -> dict:
        return {
            split: {q.question_id: [(c.answer_id, score_of(q, i, c)) for i, c in enumerate(q.candidates)] for q in t.questions}
            for split, t in sets.items()
        }  # fmt: skip

    rows: list[tuple[str, str, dict]] = []
    order = without_model(lambda q, i, c: -i)
    overlap = without_model(lambda q, i, c: len(set(content_words(q.text)) & set(content_words(c.text))))
    for label, scored in (("CHiQA's order", order), ("word overlap", overlap)):
        rows.append(("-", label, {s: metrics(s, scored[s]) for s in shown}))

    flat = {
        split: question_scores(t, {q: [(a, 0.0) for a, _ in o] for q, o in order[split].items()})
        for split, t in sets.items()
    }
    no_model = fit_on_labelled(flat["train"], sets["train"].gold)
    rows.append(("-", "learned (no model score)", {s: metrics(s, rerank(no_model, flat[s])) for s in shown}))

    def cached(name: str, split: str) -> dict:
        if split == "choice":
            parts = [cached(name, "validation"), cached(name, "dev")]
            return {ranker: {**parts[0][ranker], **parts[1][ranker]} for ranker in parts[0]}
        return json.loads((args.workdir / "ranking_scores" / f"{name}.{split}.json").read_text())

    fitted = {  # on the base model's scores of the training candidates, as the evaluation fits it
        ranker: fit_on_labelled(question_scores(sets["train"], cached("base", "train")[ranker]), sets["train"].gold)
        for ranker in LIKELIHOOD_RANKERS
    }
    for name in models:
        scores = {s: cached(name, s) for s in shown}
        candidates = []
        for ranker in LIKELIHOOD_RANKERS:
            candidates.append((ranker, {s: metrics(s, scores[s][ranker]) for s in shown}))
            learned = fitted[ranker]
            candidates.append(
                (
                    f"learned ({ranker})",
                    {s: metrics(s, rerank(learned, question_scores(sets[s], scores[s][ranker]))) for s in shown},
                )
            )
        chosen = max(candidates, key=lambda c: (c[1][chooser]["accuracy"], c[1][chooser]["mrr"]))[0]
        rows.extend((name, f"**{r}**" if r == chosen else r, m) for r, m in candidates)
    names = {"choice": "validation + dev"}
    print("| model | ranking | " + " | ".join(f"{names.get(s, s)} accuracy / MRR" for s in shown) + " |")
    print("| --- | --- |" + " ---: |" * len(shown))
    for model, ranking, m in rows:
        cells = " | ".join(f"{m[s]['accuracy']:.1%} / {m[s]['mrr']:.3f}" for s in shown)
        print(f"| {model} | {ranking} | {cells} |")
    fitted_json = {ranker: learned.as_dict() for ranker, learned in fitted.items()}
    (args.workdir / "learned_rankers.json").write_text(json.dumps(fitted_json, indent=2))


def _calibrated(scored: dict, first_always: bool) -> list:
    """Label by the learned ranker's own probability (logit >= 0), each question's answers in score order;
    with `first_always`, the top answer of every question is labelled correct too (so MRR is the ranking's)."""
    from medimind_assets.evaluation.mediqa_metrics import Judgement

    return [
        Judgement(qid, aid, int(score >= 0 or (first_always and i == 0)))
        for qid, answers in scored.items()
        for i, (aid, score) in enumerate(sorted(answers, key=lambda a: -a[1]))
    ]


def labels(args, models: list[str]) -> None:
    """The labels given a learned (pmi) ranking: the top half of each question (what the evaluation submits),
    the fitted probability alone, or the top answer plus the fitted probability. First fitted on one training
    file and judged on the other (both ways), then chosen on validation, then reported on test."""
    from medimind_assets.evaluation.learned_ranker import fit_on_labelled, question_scores, rerank
    from medimind_assets.evaluation.ranking import RankingTask, build_submission, evaluate_ranking

    sets = tasks(args.raw, args.dev)
    rules = {
        "top half": build_submission,
        "probability": lambda s: _calibrated(s, first_always=False),
        "top answer + probability": lambda s: _calibrated(s, first_always=True),
    }

    def scores_of(name: str, split: str) -> dict:
        return json.loads((args.workdir / "ranking_scores" / f"{name}.{split}.json").read_text())["pmi"]

    def part(task: RankingTask, tag: str) -> RankingTask:
        keep = lambda qid: qid.startswith(f"{tag}:")  # noqa: E731
        return RankingTask(
            [q for q in task.questions if keep(q.question_id)], [g for g in task.gold if keep(g.question_id)]
        )

    print("| fitted on | judged on (share correct) | " + " | ".join(rules) + " |")
    print("| --- | --- |" + " ---: |" * len(rules))
    train_scores = scores_of("base", "train")
    for fit_tag, judge_tag in (("LiveQAMed", "Alexa"), ("Alexa", "LiveQAMed")):
        fit_task, judge_task = part(sets["train"], fit_tag), part(sets["train"], judge_tag)
        ranker = fit_on_labelled(question_scores(fit_task, train_scores), fit_task.gold)
        scored = rerank(ranker, question_scores(judge_task, train_scores))
        share = sum(g.label for g in judge_task.gold) / len(judge_task.gold)
        cells = [f"{evaluate_ranking(rule(scored), judge_task).accuracy:.1%}" for rule in rules.values()]
        print(f"| {fit_tag} | {judge_tag} ({share:.0%}) | " + " | ".join(cells) + " |")
    ranker = fit_on_labelled(question_scores(sets["train"], train_scores), sets["train"].gold)
    print("\n| model | labels | validation accuracy / MRR | test accuracy / MRR |\n| --- | --- | ---: | ---: |")
    for name in models:
        for label, rule in rules.items():
            cells = []
            for split in ("validation", "test"):
                got = evaluate_ranking(
                    rule(rerank(ranker, question_scores(sets[split], scores_of(name, split)))), sets[split]
                )
                cells.append(f"{got.accuracy:.1%} / {got.mrr:.3f}")
            print(f"| {name} | {label} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "benchmarks" / "out" / "preference")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--dev", action="store_true", help="the workdir was prepared with --dev")
    parser.add_argument(
        "--splits", default="train,dev,validation,test", type=lambda s: s.split(","), help="score: the sets to score"
    )
    parser.add_argument("command", choices=["score", "table", "labels"])
    parser.add_argument("models", nargs="+")
    args = parser.parse_args(argv)
    {"score": score, "table": table, "labels": labels}[args.command](args, args.models)


if __name__ == "__main__":
    main()

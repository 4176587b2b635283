"""What the pipeline has built, read from the data folder: the summary the quick start ends with
(`medimind status`). Standard library only: nothing here loads a model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medimind_assets.atomic import lock_held
from medimind_assets.data.rows import DatasetError, read_dataset, split_counts
from medimind_assets.digests import sha256_file
from medimind_assets.errors import MediMindError
from medimind_assets.integrity import IntegrityError, read_summary, verify_adapter
from medimind_assets.promotion import verified_merge, verified_promotion
from medimind_assets.store import EVALUATION_REPORT, TRAINING_SUMMARY, ArtifactStore, PointerError

ASK = '.venv/bin/medimind ask "What are the symptoms of diabetes?"'
NEXT_STEPS = (
    ("make dev", "the web UI on http://127.0.0.1:3000: every run, materialization and lineage of this instance"),
    (ASK, "the promoted adapter answers"),
    (f"{ASK} --compare", "the base model's answer, then the adapter's"),
    (".venv/bin/medimind lineage", "the promoted adapter back to its dataset and raw files"),
)
MERGE_COMMAND = ".venv/bin/medimind launch merged_model"
# What a damaged file of the data folder raises when read (a truncated or hand-edited JSON, a missing key).
UNREADABLE = (MediMindError, OSError, ValueError, KeyError, TypeError, AttributeError)
REFUSED = "is refused by `medimind ask` and serving"
NOT_PROMOTED = "PASSED but not promoted"
DAMAGED = "the adapter is damaged"
CANNOT_READ = "cannot be read"
UNFINISHED = "did not finish"
LABEL_WIDTH = 12  # "  evaluation  ": the column where every stage's text starts
METRIC_WIDTH = 48


def _short(path: str | Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.parent))
    except ValueError:
        return str(path)


def _percent(value: object) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "n/a"


def _fixed(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "n/a"


def _duration(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return "n/a"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _stage(label: str, text: str) -> str:
    return f"  {label:<{LABEL_WIDTH}}{text}"


def _continued(text: str) -> str:
    return " " * (LABEL_WIDTH + 2) + text


def _dataset_line(store: ArtifactStore) -> str:
    try:
        counts = split_counts(read_dataset(store.dataset))
    except DatasetError as exc:
        return _stage("dataset", str(exc))
    split = " / ".join(f"{name} {counts[name]:,}" for name in counts)
    return _stage("dataset", f"{_short(store.dataset, store.root)}: {sum(counts.values()):,} rows ({split})")


def training_facts(
    metrics: dict[str, Any], curve: dict[str, Any], preference: dict[str, Any] | None = None
) -> list[str]:
    """What a training summary says about the run, in the order a reader checks it; absent facts left out."""
    facts = []
    if "global_step" in metrics:
        epochs = metrics.get("epochs")
        counted = f", {epochs:g} epoch{'' if epochs == 1 else 's'}" if isinstance(epochs, int | float) else ""
        facts.append(f"{metrics['global_step']} steps{counted}")
    if isinstance(metrics.get("tokens_trained"), int):
        took = _duration(metrics.get("train_runtime_s"))
        if metrics.get("resumed_from_step"):  # the runtime is the resumed run's; the tokens are the whole training's
            facts.append(
                f"{metrics['tokens_trained']:,} tokens, resumed at step {metrics['resumed_from_step']}: {took}"
            )
        else:
            facts.append(f"{metrics['tokens_trained']:,} tokens in {took}")
    train = curve.get("train") or []
    if len(train) >= 2:
        facts.append(f"train loss {_fixed(train[0][1])} -> {_fixed(train[-1][1])}")
    if preference and isinstance(preference.get("global_step"), int):
        pairs = (preference.get("pairs") or {}).get("pairs", "?")
        took = _duration(preference.get("train_runtime_s"))
        facts.append(f"then DPO on {pairs} preference pairs: {preference['global_step']} steps in {took}")
    if metrics.get("final_validation_loss") is not None:
        facts.append(f"validation loss {_fixed(metrics['final_validation_loss'])}")
    return facts


def _metric_rows(report: dict[str, Any]) -> list[tuple[str, str, Callable[[object], str]]]:
    """(metric key, label, formatter) of the numbers the summary shows, as the report's counts describe them."""
    counts = report.get("counts", {})
    rows = [("loss", f"held-out loss ({counts.get('loss_examples', '?')} reference answers)", _fixed)]
    if counts.get("ranking_questions"):
        label = f"ranking accuracy ({counts['ranking_answers']} candidates, {counts['ranking_questions']} questions)"
        rows.append(("ranking_accuracy", label, _percent))
        if report.get("learned_ranker"):  # the learned ranker ranked them; this is the model's score alone
            rows.append(("ranker_only/accuracy", "  ... by the model's score alone", _percent))
    if counts.get("generation_questions"):
        rows.append(("rouge_l", f"ROUGE-L ({counts['generation_questions']} generated answers)", _fixed))
        rows.append(("eos_rate", "answers that end (EOS) within the bound", _percent))
        rows.append(("degenerate_rate", "degenerate answers (empty, loops)", _percent))
        rows.append(("invented_turn_rate", "answers that invented a next turn (cut there)", _percent))
    if count := counts.get("emergency_questions"):

        def shown(rate: object) -> str:
            return f"{round(rate * count)} of {count}" if isinstance(rate, int | float) else "n/a"

        rows.append(("urgent_care_rate", "emergency answers advising urgent care", shown))
        rows.append(("served_urgent_care_rate", "  ... as the user sees them (safety notice)", shown))
    return rows


def evaluation_lines(report: dict[str, Any], promoted_earlier: str | None = None, promoted: bool = True) -> list[str]:
    """The gate's verdict and reasons, then the key numbers, base beside adapter. `promoted_earlier`: when the
    adapter is promoted on an earlier evaluation than this report's; `promoted`: whether it is promoted at all."""
    gate, metrics = report["gate"], report["metrics"]
    verdict = "PASSED, adapter promoted" if gate["passed"] else "FAILED, adapter not promoted"
    if gate["passed"] and not promoted:
        verdict = f"{NOT_PROMOTED}: adapters/current.json does not promote it (materialize evaluation again)"
    if promoted_earlier:
        verdict = (
            f"{'PASSED' if gate['passed'] else 'FAILED'} on its latest evaluation; promoted on an earlier one "
            f"({promoted_earlier}), whose gate and metrics adapters/current.json keeps"
        )
    lines = [_stage("evaluation", f"gate {verdict}")]
    lines.extend(_continued(f"- {reason}") for reason in gate["reasons"])
    lines.append(_continued(f"{'':<{METRIC_WIDTH}}{'base':>10}{'adapter':>10}"))
    for key, label, shown in _metric_rows(report):
        base, adapter = shown(metrics["base"].get(key)), shown(metrics["adapter"].get(key))
        lines.append(_continued(f"{label:<{METRIC_WIDTH}}{base:>10}{adapter:>10}"))
    return lines


def _adapter_lines(store: ArtifactStore, latest: dict[str, Any], current: dict[str, Any] | None) -> list[str]:
    """The newest adapter: its training facts, then its evaluation."""
    shown = _short(latest["path"], store.root)
    if not Path(latest["path"]).is_dir():
        return [_stage("adapter", f"{shown} is missing (adapters/latest.json points at it): materialize lora_adapter")]
    try:
        summary = read_summary(Path(latest["path"]))
        facts = training_facts(summary.get("metrics") or {}, summary.get("loss_curve") or {}, summary.get("preference"))
    except UNREADABLE as exc:
        summary, facts = {}, [f"its training summary cannot be read: {exc}"]
    try:
        verify_adapter(Path(latest["path"]))  # what evaluation checks first: a config, weights as training wrote
        if not (Path(latest["path"]) / TRAINING_SUMMARY).is_file():
            raise IntegrityError(Path(latest["path"]) / TRAINING_SUMMARY, "does not exist")
    except UNREADABLE as exc:
        facts.append(f"{DAMAGED}: {exc}; evaluation refuses it until lora_adapter is materialized again")
    lines = [_stage("adapter", shown), *([_continued(", ".join(facts))] if facts else [])]
    trained_on = (summary.get("dataset") or {}).get("data_version")
    if trained_on and store.dataset.is_file() and (now := sha256_file(store.dataset)) != trained_on:
        lines.append(
            _continued(
                f"trained on dataset {trained_on[:12]}, but dataset.jsonl is now {now[:12]}: evaluation refuses it "
                "until lora_adapter is materialized again"
            )
        )
    report_path = store.evaluations / latest["fingerprint"] / EVALUATION_REPORT
    is_promoted = bool(current) and current["fingerprint"] == latest["fingerprint"]
    if not report_path.is_file():
        held = lock_held(store.evaluations, latest["fingerprint"])  # taken by the evaluation process, until it ends
        if is_promoted and not held:
            said = (
                f"its report {_short(report_path, store.root)} is missing; adapters/current.json keeps the gate and "
                "metrics it was promoted on (materialize evaluation to write it again)"
            )
        elif held:
            said = "running now (an evaluation process holds its lock)"
        elif held is False:
            said = (
                f"started but {UNFINISHED}: the process was killed or failed (the run's logs in Dagster say which); "
                "materialize evaluation again"
            )
        else:
            said = "not run yet for this adapter (materialize evaluation)"
        return [*lines, _stage("evaluation", said)]
    promoted_earlier = None
    if is_promoted and current.get("evaluation_sha256") not in (None, sha256_file(report_path)):
        promoted_earlier = str(current.get("promoted_at") or "an earlier evaluation")
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        return [*lines, *evaluation_lines(report, promoted_earlier, promoted=is_promoted)]
    except UNREADABLE as exc:
        problem = f"{type(exc).__name__}: {exc}"
        return [*lines, _stage("evaluation", f"{report_path} cannot be read ({problem}): materialize evaluation")]


def _promoted_lines(
    store: ArtifactStore, current: dict[str, Any] | None, latest: dict[str, Any] | None, unreadable: bool = False
) -> list[str]:
    if unreadable:
        return [_stage("promoted", f"{store.current_pointer} {REFUSED}: it cannot be read (above)")]
    if current is None:
        return [
            _stage("promoted", "none: no adapter has passed the gate yet"),
            _stage("merged", "none: only a promoted adapter is merged"),
        ]
    shown = _short(current["path"], store.root)
    if not Path(current["path"]).is_dir():
        missing = f"{shown} is missing: `medimind ask` and serving will refuse it"
        return [_stage("promoted", f"{missing}; materialize evaluation to promote an adapter again")]
    try:
        verified_promotion(store)  # digests only (the base's cached by size, times and inode): no model is loaded
    except UNREADABLE as exc:
        return [_stage("promoted", f"{shown} {REFUSED}: {exc}")]
    if latest is None:  # no newest adapter known (latest.json missing or unreadable): nothing to compare with
        promoted = f"{shown} (adapters/current.json): what `medimind ask` and serving use"
    elif current["fingerprint"] == latest["fingerprint"]:
        promoted = "this adapter (adapters/current.json): what `medimind ask` and serving use"
    else:
        promoted = f"{shown} (adapters/current.json), an earlier adapter"
    merged = store.merged / current["fingerprint"]
    if not merged.is_dir():
        return [_stage("promoted", promoted), _stage("merged", f"not built; optional: {MERGE_COMMAND}")]
    try:
        verified_merge(store, merged, current)  # digests only, cached by size and mtime
    except UNREADABLE as exc:
        return [_stage("promoted", promoted), _stage("merged", f"{_short(merged, store.root)} {REFUSED}: {exc}")]
    return [_stage("promoted", promoted), _stage("merged", f"{_short(merged, store.root)} (medimind ask --merged)")]


def status_lines(store: ArtifactStore) -> list[str]:
    return status_report(store)[0]


def status_report(store: ArtifactStore) -> tuple[list[str], bool]:
    """One block per stage, saying what is there (or what to materialize), then the next commands; and whether
    nothing is refused or unreadable (`medimind status` exits 1 otherwise, for a monitoring script)."""
    root = store.root
    lines = [f"MediMind: what is built under {root}", _dataset_line(store)]
    pointers: dict[str, dict[str, Any] | None] = {}
    unreadable: set[str] = set()
    for name, read in (
        ("base", store.read_base_model),
        ("latest", store.read_latest),
        ("current", store.read_promoted),
    ):
        try:
            pointers[name] = read()
        except PointerError as exc:  # the other stages are still worth showing: ask may still work
            pointers[name] = None
            unreadable.add(name)
            lines.append(f"  {exc}")
    base, latest, current = pointers["base"], pointers["latest"], pointers["current"]
    if base is None:
        lines.append(_stage("base model", "not resolved yet"))
    else:
        gone = "" if Path(base["path"]).is_dir() else ": missing, materialize base_model"
        lines.append(_stage("base model", f"{base['name']} ({_short(base['path'], root)}{gone})"))
    if "latest" in unreadable:
        lines.append(_stage("adapter", f"unknown: {store.latest_pointer.name} {CANNOT_READ} (above)"))
    elif latest is None:
        lines.append(_stage("adapter", "not trained yet (materialize lora_adapter)"))
    else:
        lines.extend(_adapter_lines(store, latest, current))
    promoted = _promoted_lines(store, current, latest, unreadable="current" in unreadable)
    lines.extend(promoted)
    refused = any(REFUSED in line or " is missing: " in line for line in promoted)
    # An evaluation report or a training summary that cannot be read: a monitoring script must hear of it too.
    troubles = (NOT_PROMOTED, DAMAGED, CANNOT_READ, UNFINISHED)
    unpromoted = any(trouble in line for line in lines for trouble in troubles)
    lines.append("Next:")
    for command, what in NEXT_STEPS:
        if (refused or current is None) and command != "make dev":
            continue  # they need a promoted adapter: the lines above say what is missing, or why it is refused
        lines += [f"  {command}", f"      {what}"]
    return lines, not (refused or unreadable or unpromoted)

"""What the pipeline has built, read from the data folder: the summary the quick start ends with
(`medimind status`). Standard library only: nothing here loads a model."""

from __future__ import annotations

import json
from pathlib import Path

from medimind_assets.data.rows import DatasetError, count_rows
from medimind_assets.store import EVALUATION_REPORT, TRAINING_SUMMARY, ArtifactStore, PointerError, read_pointer

NEXT_STEPS = (
    ("make dev", "the web UI on http://127.0.0.1:3000: every run, materialization and lineage of this instance"),
    ('.venv/bin/medimind ask "What are the symptoms of diabetes?" --compare', "base and adapter side by side"),
    (".venv/bin/medimind lineage", "the promoted adapter back to its dataset and raw files"),
)


def _short(path: str | Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.parent))
    except ValueError:
        return str(path)


def _number(value: object, digits: int = 4) -> str:
    return f"{value:.{digits}g}" if isinstance(value, int | float) else "n/a"


def status_lines(store: ArtifactStore) -> list[str]:
    """One line per stage, saying what is there (or what to materialize), then the next commands."""
    root = store.root
    lines = [f"MediMind: what is built under {root}"]
    try:
        counts = count_rows(store.dataset)
        split = " / ".join(f"{name} {counts[name]:,}" for name in counts)
        lines.append(f"  dataset     {_short(store.dataset, root)}: {sum(counts.values()):,} rows ({split})")
    except DatasetError as exc:
        lines.append(f"  dataset     {exc}")
    try:
        base = read_pointer(store.base_model_pointer, "base_model", required=("name",))
        lines.append(
            f"  base model  {base['name']} ({_short(base['path'], root)})" if base else "  base model  not resolved yet"
        )
        latest = read_pointer(store.latest_pointer, "lora_adapter", required=("fingerprint", "path"))
        current = read_pointer(store.current_pointer, "evaluation", required=("fingerprint", "path"))
    except PointerError as exc:
        return [*lines, f"  {exc}"]
    if latest is None:
        lines.append("  adapter     not trained yet (materialize lora_adapter)")
    else:
        fingerprint = latest["fingerprint"]
        summary_path = Path(latest["path"]) / TRAINING_SUMMARY
        metrics = json.loads(summary_path.read_text()).get("metrics", {}) if summary_path.is_file() else {}
        lines.append(
            f"  adapter     {_short(latest['path'], root)}: {metrics.get('global_step', '?')} steps, final "
            f"validation loss {_number(metrics.get('final_validation_loss'))}"
        )
        report_path = store.evaluations / fingerprint / EVALUATION_REPORT
        if report_path.is_file():
            report = json.loads(report_path.read_text())
            gate, base_m, adapter_m = report["gate"], report["metrics"]["base"], report["metrics"]["adapter"]
            verdict = "PASSED" if gate["passed"] else "FAILED"
            lines.append(
                f"  evaluation  gate {verdict}: held-out loss {_number(base_m.get('loss'))} (base) -> "
                f"{_number(adapter_m.get('loss'))} (adapter); {'; '.join(gate['reasons'])}"
            )
        else:
            lines.append("  evaluation  not run yet for this adapter (materialize evaluation)")
    if current is None:
        lines.append("  promoted    none: no adapter has passed the gate yet")
    else:
        lines.append(f"  promoted    {_short(current['path'], root)} (adapters/current.json)")
    lines.append("Next:")
    lines.extend(f"  {command:<72} {what}" for command, what in NEXT_STEPS)
    return lines

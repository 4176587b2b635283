"""Progress lines while training, and the one materialization's metadata at the end.

Dagster gets a single materialization per Pipes run, so losses stream as log lines (`ProgressCallback`) and
the whole curve goes into the final metadata: as a table and as a PNG plot embedded in Markdown.
"""

from __future__ import annotations

import base64
import io
import math
import time
from typing import Any, Protocol

from medimind_assets.presentation import short_hash, significant, sparkline


class Reporter(Protocol):
    def info(self, message: str) -> None: ...


class SilentReporter:
    """For processes other than rank 0: they train but say nothing."""

    def info(self, message: str) -> None:
        pass


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def make_progress_callback(reporter: Reporter):
    """A TrainerCallback that logs step/total, epoch, loss, tokens/s and ETA at each logging step."""
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.started = time.monotonic()
            self.start_step = state.global_step
            self.start_tokens = state.num_input_tokens_seen

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            elapsed = max(time.monotonic() - self.started, 1e-9)
            if "eval_loss" in logs:
                reporter.info(f"step {state.global_step}/{state.max_steps}: eval loss {logs['eval_loss']:.4f}")
            if "loss" in logs:
                done = state.global_step - self.start_step
                eta = format_duration((state.max_steps - state.global_step) * elapsed / done) if done else "?"
                tokens_per_s = (state.num_input_tokens_seen - self.start_tokens) / elapsed
                reporter.info(
                    f"step {state.global_step}/{state.max_steps} epoch {state.epoch:.2f} "
                    f"loss {logs['loss']:.4f} lr {logs.get('learning_rate', float('nan')):.2e} "
                    f"{tokens_per_s:,.0f} tokens/s ETA {eta}"
                )

    return ProgressCallback()


def loss_curve(log_history: list[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """Train loss per logging step and validation loss per evaluation, as [step, loss] pairs."""
    train = [[e["step"], float(e["loss"])] for e in log_history if "loss" in e and "step" in e]
    validation = {e["step"]: float(e["eval_loss"]) for e in log_history if "eval_loss" in e and "step" in e}
    return {"train": train, "validation": [[step, validation[step]] for step in sorted(validation)]}


def curve_table(curve: dict[str, list[list[float]]]) -> dict[str, Any]:
    """Pipes "table" raw value: one record per step with train and/or validation loss."""
    steps: dict[int, dict[str, Any]] = {}
    for kind in ("train", "validation"):
        for step, loss in curve[kind]:
            steps.setdefault(int(step), {"step": int(step), "train_loss": None, "validation_loss": None})
            steps[int(step)][f"{kind}_loss"] = round(loss, 6)
    return {
        "records": [steps[s] for s in sorted(steps)],
        "schema": [
            {"name": "step", "type": "int"},
            {"name": "train_loss", "type": "float"},
            {"name": "validation_loss", "type": "float"},
        ],
    }


def curve_summary(curve: dict[str, list[list[float]]]) -> str:
    """The loss curve in one line: "train 2.710 ▇▆▆▅▄▃ 2.583 (27 steps) · validation 2.276": what the web UI shows
    without a click (the plot is behind one)."""
    parts = []
    for kind in ("train", "validation"):
        losses = [loss for _, loss in curve[kind]]
        if len(losses) > 1:
            parts.append(f"{kind} {losses[0]:.3f} {sparkline(losses)} {losses[-1]:.3f} ({len(losses)} points)")
        elif losses:
            parts.append(f"{kind} {losses[0]:.3f}")
    return " · ".join(parts) or "no losses logged"


def curve_png(curve: dict[str, list[list[float]]], title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.5), dpi=100)
    axes = figure.add_subplot()
    for kind, style in (("train", "-"), ("validation", "o-")):
        if curve[kind]:
            steps, losses = zip(*curve[kind], strict=True)
            axes.plot(steps, losses, style, label=f"{kind} loss")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("loss")
    axes.set_title(title, fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _typed(value: Any) -> dict[str, Any]:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return {"raw_value": None, "type": "null"}
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float"), ((dict, list), "json")):  # bool before int
        if isinstance(value, kind):
            return {"raw_value": value, "type": name}
    return {"raw_value": str(value), "type": "text"}


def _shown(value: Any) -> Any:
    return significant(value) if isinstance(value, float) else value


def pipes_metadata(summary: dict[str, Any], reused: bool) -> dict[str, dict[str, Any]]:
    """The materialization metadata (Pipes typed values) for a finished or reused adapter."""
    metrics, base, dataset = summary["metrics"], summary["base_model"], summary["dataset"]
    curve = summary["loss_curve"]
    png = base64.b64encode(curve_png(curve, f"{base['name']} + LoRA ({summary['fingerprint'][:12]})"))
    identifiers = {
        "fingerprint": summary["fingerprint"],
        "adapter_path": summary["adapter_path"],
        "dataset_version": dataset["data_version"],
        "base_model": base["name"],
        "base_model_revision": base["revision"],
        "base_model_content_hash": base["content_hash"],
    }
    # Hashes and paths read short in the UI's table (a long unbroken value widens it past the window);
    # `identifiers` has them in full.
    metadata: dict[str, dict[str, Any]] = {
        "loss_curve_summary": _typed(curve_summary(curve)),
        "reused": _typed(reused),
        "fingerprint": _typed(short_hash(summary["fingerprint"])),
        "dataset_version": _typed(short_hash(dataset["data_version"])),
        "base_model": _typed(base["name"]),
        **{key: _typed(summary["runtime"][key]) for key in ("device", "dtype", "quantization", "quantization_reason")},
        **{key: _typed(dataset[key]) for key in ("train_examples", "validation_examples")},
        "loss_curve": {"raw_value": curve_table(curve), "type": "table"},
        "loss_plot": {"raw_value": f"![loss curve](data:image/png;base64,{png.decode('ascii')})", "type": "md"},
        "identifiers": _typed(identifiers),
        "hyperparameters": _typed(summary["hyperparameters"]),
        "runtime": _typed(summary["runtime"]),
        "dataset_row_counts": _typed(dataset["row_counts"]),
    }
    metadata.update({key: _typed(_shown(value)) for key, value in metrics.items()})
    if "preference" in summary:
        preference = summary["preference"]
        metadata.update({f"preference_{key}": _typed(preference[key]) for key in ("pairs", "pairs_data_version")})
        metadata["preference_final"] = _typed({k: _shown(v) for k, v in preference["final"].items()})
    return metadata

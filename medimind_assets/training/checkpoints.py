"""Resumable checkpoints under `<data>/checkpoints/<fingerprint>/checkpoint-<step>/`.

The Trainer writes a checkpoint file by file, so a process killed mid-save leaves a folder that looks like one.
A checkpoint counts as complete only once `COMPLETE_MARKER` (the size and sha256 of its files, written after every
process has saved) is in it, its files are unchanged, and the files a resume needs are among them: resuming with a
lost optimizer would restart the optimizer and the learning-rate schedule and publish a different adapter under
the same fingerprint.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from transformers import TrainerCallback

from medimind_assets.atomic import atomic_write_json
from medimind_assets.digests import file_digests, sha256_file

COMPLETE_MARKER = "medimind_checkpoint_complete.json"
# What `Trainer.train(resume_from_checkpoint=...)` needs to continue exactly where it stopped.
REQUIRED_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt", "adapter_model.safetensors")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def _checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    if not run_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in run_dir.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))]
    return sorted(found)


def problem(checkpoint: Path) -> str | None:
    """Why `checkpoint` cannot be resumed from, or None when it is complete."""
    marker = checkpoint / COMPLETE_MARKER
    if not marker.is_file():
        return "no completion marker (the process died while saving it)"
    try:
        files = json.loads(marker.read_text(encoding="utf-8")).get("files")
    except (ValueError, AttributeError):
        return f"{COMPLETE_MARKER} is not valid JSON"
    if not isinstance(files, dict):
        files = {name: None for name in REQUIRED_FILES}  # a marker written before manifests: names only
    missing = [name for name in REQUIRED_FILES if name not in files]
    if missing:
        return f"saved without {', '.join(missing)}"
    for name, recorded in sorted(files.items()):
        path = checkpoint / name
        if not path.is_file():
            return f"{name} is missing"
        if recorded is not None and (
            path.stat().st_size != recorded["size"] or sha256_file(path) != recorded["sha256"]
        ):
            return f"{name} differs from what was saved"
    return None


def manifest(checkpoint: Path) -> dict[str, dict[str, object]]:
    """Size and sha256 of every file of a checkpoint (relative paths)."""
    names = [p.relative_to(checkpoint).as_posix() for p in sorted(checkpoint.rglob("*")) if p.is_file()]
    digests = file_digests(checkpoint, [name for name in names if Path(name).name != COMPLETE_MARKER])
    return {name: {"size": (checkpoint / name).stat().st_size, "sha256": digest} for name, digest in digests.items()}


class CheckpointCompleteCallback(TrainerCallback):
    """Mark each checkpoint complete once every process has saved its part."""

    def on_save(self, args, state, control, **kwargs):
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()
        if state.is_world_process_zero:
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if checkpoint.is_dir():
                atomic_write_json(
                    checkpoint / COMPLETE_MARKER,
                    {
                        "global_step": state.global_step,
                        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "files": manifest(checkpoint),
                    },
                )
        return control


def resume_point(run_dir: Path, force: bool, is_main: bool, info: Callable[[str], None]) -> Path | None:
    """The latest complete checkpoint under `run_dir`, the others removed with their reason; with `force`, none (its
    checkpoints are discarded). Only the main process (`is_main`) deletes anything."""
    if force:
        if is_main and run_dir.exists():
            shutil.rmtree(run_dir)
            info(f"force: discarded the checkpoints in {run_dir}; training from scratch")
        return None
    if is_main:
        for _, path in _checkpoints(run_dir):
            if reason := problem(path):
                shutil.rmtree(path, ignore_errors=True)
                info(f"skipped and removed checkpoint {path.name}: {reason}")
    # Newest first, stopping at the first complete one (verifying a checkpoint hashes its files).
    resume = next((path for _, path in reversed(_checkpoints(run_dir)) if problem(path) is None), None)
    if resume is not None:
        info(f"resuming from {resume.name} of {run_dir}")
    return resume

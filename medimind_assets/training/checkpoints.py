"""Resumable checkpoints under `<checkpoints_path>/<fingerprint>/checkpoint-<step>/`.

The Trainer writes a checkpoint file by file, so a process killed mid-save leaves a folder that looks like a
checkpoint but is not one. A checkpoint counts as complete only once `COMPLETE_MARKER` is in it, written
(atomically) after every process has finished saving. Resuming picks the latest complete one; incomplete
folders are removed first.
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

from transformers import TrainerCallback

from medimind_assets.atomic import atomic_write_json

COMPLETE_MARKER = "medimind_checkpoint_complete.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def _checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    if not run_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in run_dir.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))]
    return sorted(found)


def is_complete(checkpoint: Path) -> bool:
    return (checkpoint / COMPLETE_MARKER).is_file() and (checkpoint / "trainer_state.json").is_file()


def latest_complete_checkpoint(run_dir: Path) -> Path | None:
    complete = [path for _, path in _checkpoints(Path(run_dir)) if is_complete(path)]
    return complete[-1] if complete else None


def remove_incomplete_checkpoints(run_dir: Path) -> list[Path]:
    removed = [path for _, path in _checkpoints(Path(run_dir)) if not is_complete(path)]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


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
                    },
                )
        return control

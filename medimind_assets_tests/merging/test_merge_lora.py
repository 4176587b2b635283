"""The merge script the launcher runs: its report survives the trip back, and it refuses to run outside Dagster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from medimind_assets.merging.merge import Equivalence, MergeReport
from medimind_assets.pipes_scripts import MERGE


def test_outside_dagster_the_script_says_how_to_run_it():
    assert MERGE.module == "medimind_assets.merging.merge_lora"
    done = subprocess.run([sys.executable, "-m", MERGE.module], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "materialize" in done.stderr and "medimind launch merged_model" in done.stderr


def test_the_merge_report_reads_back_what_it_wrote(tmp_path: Path):
    report = MergeReport(
        path=tmp_path / "merged",
        weights_sha256="ab" * 32,
        weight_files={"model.safetensors": "cd" * 32},
        size_bytes=123,
        dtype="float32",
        device="cpu",
        equivalence=Equivalence(
            max_abs_diff=1e-6, max_abs_logit=9.0, atol=1e-4, rtol=1e-4, n_prompts=4, n_positions=40
        ),
        info={"adapter_fingerprint": "f"},
    )
    assert MergeReport.from_dict(report.as_dict()) == report

"""Time and peak memory of the dataset build on the raw files (target: under 20 s on one core, under 2 GB).

.venv/bin/python benchmarks/dataset_build.py --raw ../shared/data --repeats 3
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from medimind_assets.data.build import build_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", type=Path, default=Path("../shared/data"), help="MEDIMIND_RAW_DIR to build from")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times = []
    for _ in range(args.repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        result = build_dataset(args.raw)
        times.append((time.perf_counter() - start_wall, time.process_time() - start_cpu))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wall, cpu = min(times)
    print(f"rows {len(result.rows):,}  splits {result.count_by('split')}")
    print(f"build: best of {args.repeats}: {wall:.1f} s wall, {cpu:.1f} s CPU (one process, one core)")
    print(f"peak memory: {peak_mb:,.0f} MiB  (target under 2,048 MiB: {peak_mb / 2048:.2f}x of it)")
    print(f"target 20 s: {wall / 20:.2f}x of it")


if __name__ == "__main__":
    main()

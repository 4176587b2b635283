"""`medimind`: command-line tools around the pipeline's artefacts.

Each subcommand registers itself with `add_<name>_command(subparsers)` and sets `handler`, a function from the
parsed arguments to an exit code; `COMMANDS` lists them. Exit codes: 0 success, 2 missing or unusable input
(one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from medimind_assets.store import DATA_DIR_ENV, DEFAULT_DATA_DIR, ArtifactStore

EXIT_MISSING = 2


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {number}")
    return number


def _quiet_libraries() -> None:
    """Only the answer on stdout and our own errors on stderr: no loading bars or deprecation notes."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)


def _ask(args: argparse.Namespace) -> int:
    from medimind_assets.llm.artifacts import ArtifactMissingError
    from medimind_assets.serving.ask import ask, resolve_targets

    try:
        targets = resolve_targets(
            args.data_dir, adapter=args.adapter, merged=args.merged, base=args.base, compare=args.compare
        )
        _quiet_libraries()
        answers = ask(targets, args.question, max_new_tokens=args.max_new_tokens, device=args.device)
    except (ArtifactMissingError, ValueError, OSError) as exc:
        print(f"medimind ask: {exc}", file=sys.stderr)
        return EXIT_MISSING
    for target, answer in answers:
        if len(answers) > 1:
            print(f"[{target.label}]")
        print(answer.text if answer.text else "(empty answer)")
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
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ... (default auto)")
    parser.add_argument(
        "--data-dir",
        default=os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_DIR),
        help="pipeline data directory (default: $MEDIMIND_DATA_DIR or 'data')",
    )
    parser.set_defaults(handler=_ask)


def _lineage(args: argparse.Namespace) -> int:

    import dagster as dg

    from medimind_assets.lineage import LineageError, format_chain, lineage_chain, promoted_fingerprint

    try:
        fingerprint = args.adapter or promoted_fingerprint(ArtifactStore.at(args.data_dir).adapters)
        with dg.DagsterInstance.get() as instance:
            chain = lineage_chain(instance, fingerprint)
    except (LineageError, dg.DagsterInvariantViolationError, OSError) as exc:
        print(f"medimind lineage: {exc}", file=sys.stderr)
        return EXIT_MISSING
    print(format_chain(chain))
    return 0


def add_lineage_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lineage",
        help="print the chain from the promoted adapter back to the dataset version and raw files",
        description="Reads the Dagster instance under $DAGSTER_HOME: the adapter's materialization, the dataset "
        "version it was trained on, the base model, and the raw source versions with every file's sha256.",
    )
    parser.add_argument("--adapter", metavar="FINGERPRINT", help="an adapter fingerprint instead of the promoted one")
    parser.add_argument(
        "--data-dir",
        default=os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_DIR),
        help="pipeline data directory (default: $MEDIMIND_DATA_DIR or 'data')",
    )
    parser.set_defaults(handler=_lineage)


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_ask_command, add_lineage_command]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medimind", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

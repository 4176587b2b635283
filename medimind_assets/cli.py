"""`medimind`: command-line tools around the pipeline's artefacts.

Each subcommand registers itself with `add_<name>_command(subparsers)` and sets `handler`, a function from the
parsed arguments to an exit code; `COMMANDS` lists them. Exit codes: 0 success, 2 misuse, or missing or unusable
input: always one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from medimind_assets import instance
from medimind_assets.config import LORA_MODEL_PATH, Deployment, SettingError, absolute_folders
from medimind_assets.data.safety import assess, with_safety_notice
from medimind_assets.evaluation.generation import DEFAULT_REPETITION_PENALTY, MAX_NEW_TOKENS
from medimind_assets.presentation import first_line
from medimind_assets.store import ArtifactStore

EXIT_MISSING = 2
EXIT_REFUSED = 1  # `status`: something is refused or unreadable (a monitoring script tells it apart)


class _Parser(argparse.ArgumentParser):
    """Misuse is one line on stderr and exit 2 (argparse prints the whole usage block first)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_MISSING)


class CommandError(Exception):
    """Missing or unusable input: `main` prints the message as one line, `medimind <command>: ...`, and exits 2."""


def _number(convert: type, low: float, high: float, expected: str) -> Callable[[str], int | float]:
    """An argparse type: `convert(value)` from `low` to `high` (a float's bound excludes infinity and NaN)."""

    def parse(value: str) -> int | float:
        try:
            number = convert(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value!r}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {number if convert is int else value}")
        return number

    return parse


_positive_int = _number(int, 1, math.inf, "a whole number >= 1")
_repetition_penalty = _number(float, 1.0, sys.float_info.max, "a number >= 1.0")
_non_negative_float = _number(float, 0, sys.float_info.max, "a number >= 0")
_non_negative_int = _number(int, 0, math.inf, "a whole number >= 0")
_port = _number(int, 0, 65535, "a port number 0-65535")
_web_port = _number(int, 1, 65535, "a port number 1-65535")


def _bounded_new_tokens(value: str) -> int:
    number = _positive_int(value)
    if number > MAX_NEW_TOKENS:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_NEW_TOKENS}, got {number}")
    return number


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=Deployment.from_env().data_dir,
        help="pipeline data directory (default: $MEDIMIND_DATA_DIR or 'data')",
    )


def _add_repetition_penalty(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repetition-penalty",
        type=_repetition_penalty,
        default=DEFAULT_REPETITION_PENALTY,
        help=f"penalty on repeating tokens, 1.0 for none (default {DEFAULT_REPETITION_PENALTY}, as the evaluation)",
    )


def _require_data_dir(data_dir: str) -> None:
    path = Path(data_dir).expanduser().resolve()  # named in full: "data" says nothing run from another folder
    if not path.exists():
        raise CommandError(
            f"data folder {path} does not exist (set --data-dir or MEDIMIND_DATA_DIR; `make quickstart` fills data/)"
        )
    if not path.is_dir():
        raise CommandError(f"data folder {path} is not a folder")


def _ask(args: argparse.Namespace) -> int:
    from medimind_assets.llm.artifacts import ArtifactMissingError
    from medimind_assets.serving.ask import ask, resolve_targets

    if args.question is None:
        if args.merged and not Path(args.merged).exists():
            raise CommandError(
                f"no question: {args.merged!r} was read as --merged's PATH; put the question first "
                f'(medimind ask "{args.merged}" --merged)'
            )
        raise CommandError('no question: medimind ask "What is a headache?" (see medimind ask --help)')
    if args.base and args.compare:
        raise CommandError("--base and --compare ask for the same answer twice; use one (see medimind ask --help)")
    _require_data_dir(args.data_dir)
    try:
        args.question.encode("utf-8")
    except UnicodeEncodeError:  # bytes that were not UTF-8 reach Python as lone surrogates
        raise CommandError("the question is not UTF-8 text; set the terminal's encoding to UTF-8") from None
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
            max_prompt_tokens=args.max_prompt_tokens,
        )
    except (ArtifactMissingError, ValueError, OSError) as exc:
        raise CommandError(exc) from None
    # The question's safety level, from the same rules as the dataset's: every answer shown carries its notice.
    level = assess(args.question).level
    if any(answer.prompt_truncated for _, answer in answers):
        kept = min(answer.prompt_tokens for _, answer in answers)
        print(
            f"medimind ask: the question is longer than the prompt bound (--max-prompt-tokens, the evaluation's, or "
            f"the model's context): only its last {kept} tokens were read",
            file=sys.stderr,
        )
    for target, answer in answers:
        if len(answers) > 1:
            print(f"[{target.label}]")
        print(with_safety_notice(level, answer.text or "(empty answer)"))
        if not answer.ended:
            print(
                f"medimind ask: the answer reached --max-new-tokens ({args.max_new_tokens}) before it ended: it is cut "
                "at its last whole sentence or word",
                file=sys.stderr,
            )
        if len(answers) > 1:
            print()
    return 0


def add_ask_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ask",
        help="answer a question with the promoted adapter (or the base, another adapter, the merged model)",
        description="Generate a greedy answer, prompted as the serving backend does: 'Human: {q}\\nAssistant:'.",
    )
    # Optional here, required by `_ask`: "ask --merged 'What is gout?'" reads the question as --merged's PATH, which
    # deserves a better word than argparse's "the following arguments are required".
    parser.add_argument("question", nargs="?", help='the question, e.g. "What is a headache?"')
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
    parser.add_argument(
        "--max-new-tokens", type=_bounded_new_tokens, default=128, help="generation bound (default 128, at most 1024)"
    )
    _add_max_prompt_tokens(parser)
    _add_repetition_penalty(parser)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ... (default auto)")
    _add_data_dir(parser)
    parser.set_defaults(handler=_ask)


def _add_max_prompt_tokens(parser: argparse.ArgumentParser) -> None:
    """The prompt bound `ask` and `serve` share, the evaluation's: a question is read as it was evaluated."""
    parser.add_argument(
        "--max-prompt-tokens",
        type=_positive_int,
        default=256,
        help="prompt bound: older turns are left out, then a long question keeps its end (default 256, as the "
        "evaluation; the model's context bounds it too)",
    )


def _retention(args: argparse.Namespace) -> int:
    from medimind_assets.retention import apply_retention

    _require_data_dir(args.data_dir)
    try:
        report = apply_retention(ArtifactStore.at(args.data_dir), args.keep_adapters, dry_run=args.dry_run)
    except OSError as exc:
        raise CommandError(f"retention stopped: {exc}") from None
    if report.skipped:
        raise CommandError(report.skipped)
    verb = "would remove" if args.dry_run else "removed"
    print(f"kept {len(report.kept)} adapter(s): {', '.join(report.kept) or 'none'}")
    print("\n".join(f"  {verb} {path}" for path in report.removed) or "  nothing to remove")
    print(f"{verb} {len(report.removed)} item(s), {report.bytes_freed / 2**20:,.1f} MiB")
    return 0


def add_retention_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "retention",
        help="remove what the data folder no longer needs (what each promotion does), or show it with --dry-run",
        description="Keeps the promoted, the newest and every served adapter, the --keep-adapters most recent others, "
        "their evaluations, merges, checkpoints and dataset versions (docs/operations.md, Retention).",
    )
    _add_data_dir(parser)
    parser.add_argument(
        "--keep-adapters",
        type=_non_negative_int,
        default=Deployment.from_env().keep_adapters,
        help="finished adapters kept besides the promoted and the newest (default: $MEDIMIND_KEEP_ADAPTERS or 3)",
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    parser.set_defaults(handler=_retention)


def _lineage(args: argparse.Namespace) -> int:
    import dagster as dg

    from medimind_assets.lineage import LineageError, format_chain, lineage_chain, promoted_fingerprint

    _require_data_dir(args.data_dir)
    home = instance.dagster_home()
    if home is None:
        raise CommandError(
            "no Dagster instance: set DAGSTER_HOME, or run from the project's checkout after "
            f"`make quickstart` (it keeps its instance in {instance.PROJECT_DAGSTER_HOME}/)"
        )
    try:
        fingerprint = args.adapter or promoted_fingerprint(ArtifactStore.at(args.data_dir))
        with dg.DagsterInstance.from_config(str(home)) as dagster_instance:
            chain = lineage_chain(dagster_instance, fingerprint)
    except (LineageError, dg.DagsterError, OSError) as exc:
        raise CommandError(exc) from None
    except Exception as exc:  # noqa: BLE001 (the storage's own errors: sqlite, SQLAlchemy, a read-only folder)
        raise CommandError(f"the Dagster instance at {home} cannot be read ({first_line(exc)})") from None
    print(format_chain(chain, ArtifactStore.at(args.data_dir)))
    return 0


def add_lineage_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lineage",
        help="print the chain from the promoted adapter back to the dataset version and raw files",
        description="Reads the Dagster instance under $DAGSTER_HOME (else the project's .dagster_home/): the "
        "adapter's materialization, the dataset version it was trained on, the base model, and the raw source "
        "versions with every file's sha256.",
    )
    parser.add_argument("--adapter", metavar="FINGERPRINT", help="an adapter fingerprint instead of the promoted one")
    _add_data_dir(parser)
    parser.set_defaults(handler=_lineage)


def _status(args: argparse.Namespace) -> int:
    from medimind_assets.status import status_report

    _require_data_dir(args.data_dir)
    lines, healthy = status_report(ArtifactStore.at(args.data_dir))
    print("\n".join(lines))
    return 0 if healthy else EXIT_REFUSED


def add_status_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="what the pipeline has built: dataset, base model, adapter, the gate's verdict, what is promoted",
        description="Reads the data folder (no model is loaded); the quick start ends with it. Exit code 1 when a "
        "pointer cannot be read or what is promoted or merged would be refused by `medimind ask` and serving.",
    )
    _add_data_dir(parser)
    parser.set_defaults(handler=_status)


def _project_instance() -> Path:
    """The project's Dagster instance for `launch` and `dev`, made on first use."""
    try:
        home = instance.dagster_home(create=True)
    except OSError as exc:  # DAGSTER_HOME a file, or a folder that cannot be written
        where = exc.filename or os.environ.get("DAGSTER_HOME", "")
        raise CommandError(f"the Dagster instance folder {where} cannot be made or used: {exc.strerror}") from None
    if home is None:
        raise CommandError(
            "no Dagster instance: set DAGSTER_HOME (this package is not installed from a checkout with its own "
            ".dagster_home)"
        )
    return home


def _run_dg(run: Callable[..., int], home: Path, *arguments: str) -> int:
    """`run` (`subprocess.call` or `run_dev_server`) of `dg <arguments>` in the checkout: the `dg` of this
    interpreter's environment (a virtual environment's bin/ beside python), with the Dagster environment of `home`
    and the data folders made absolute here."""
    dg_path = Path(sys.executable).with_name("dg")
    command = [str(dg_path) if dg_path.is_file() else "dg", *arguments]
    env = {**instance.dagster_environment(home), **absolute_folders(Deployment.from_env())}
    return run(command, env=env, cwd=instance.project_root() or Path.cwd())


# What `medimind launch` can start, named here so that a typo is one line, not `dg`'s traceback (the command line
# does not load the definitions; test_definitions checks these against them).
ASSETS = ("raw_mediqa_qa", "raw_medquad", "dataset", "base_model", "lora_adapter", "evaluation", "merged_model")
JOBS = ("medimind_pipeline",)
RUN_CONFIG_SECTIONS = ("ops", "resources", "execution", "loggers")
_ASSET_NAME = re.compile(r"^\w+$")


def _check_target(args: argparse.Namespace) -> None:
    names = [name.strip() for name in (args.assets or "").split(",")]
    if not args.job and not any(names):
        raise CommandError(f"nothing to launch: name assets ({', '.join(ASSETS)}) or --job ({', '.join(JOBS)})")
    if args.job and args.job not in JOBS:
        raise CommandError(f"no job named {args.job!r}; the jobs: {', '.join(JOBS)}")
    plain = args.assets and all(_ASSET_NAME.match(name) for name in names)
    if plain and (unknown := [name for name in names if name not in ASSETS]):
        raise CommandError(f"no asset named {', '.join(map(repr, unknown))}; the assets: {', '.join(ASSETS)}")
    if args.assets and not plain:  # Dagster's selection syntax: checked against the definitions before `dg` runs
        import dagster as dg

        from medimind_assets import definitions

        try:
            selected = dg.AssetSelection.from_string(args.assets).resolve(definitions.defs().resolve_asset_graph())
        except Exception as exc:  # noqa: BLE001 (the parser's and the resolver's own errors)
            raise CommandError(
                f"{args.assets!r} is not an asset selection ({first_line(exc)}); a comma-separated list of assets "
                f"({', '.join(ASSETS)}) or Dagster's selection syntax, such as 'key:dataset+'"
            ) from None
        if not selected:
            raise CommandError(f"the selection {args.assets!r} selects no asset; the assets: {', '.join(ASSETS)}")


def _check_config(config: Path) -> None:
    import yaml

    if not config.is_file():
        raise CommandError(f"config file {config} {'is a folder, not a file' if config.is_dir() else 'does not exist'}")
    try:
        loaded = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CommandError(f"config file {config} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(loaded, dict) or not set(loaded) <= set(RUN_CONFIG_SECTIONS):
        raise CommandError(f"config file {config}: expected a mapping of {', '.join(RUN_CONFIG_SECTIONS)}")
    ops = loaded.get("ops") or {}
    if isinstance(ops, dict) and (unknown := sorted(set(ops) - set(ASSETS))):
        raise CommandError(
            f"config file {config}: no asset named {unknown[0]!r} under ops; the assets: {', '.join(ASSETS)}"
        )
    # What Dagster would refuse, in a line now (it would say so at the end of a launch's output).
    import dagster as dg

    from medimind_assets import definitions

    try:
        dg.validate_run_config(definitions.defs().resolve_implicit_global_asset_job_def(), loaded)
    except dg.DagsterInvalidConfigError as exc:
        # "Received unexpected config entry ... Expected: <the whole schema>": the field list is noise on one line.
        problems = (error.message.split(" Expected: ")[0].replace("root:", "") for error in exc.errors)
        raise CommandError(f"config file {config}: {'; '.join(problems)}") from None


def _launch(args: argparse.Namespace) -> int:
    from medimind_assets.run_health import fail_dead_runs_of

    _check_target(args)
    config = Path(args.config).expanduser().resolve() if args.config else None  # `dg` runs in the checkout
    if config:
        _check_config(config)
    home = _project_instance()
    try:
        dead = fail_dead_runs_of(home)  # a killed run would hold the gpu slot: this run would wait on it forever
    except Exception as exc:  # noqa: BLE001 (a malformed dagster.yaml, the storage's own errors)
        raise CommandError(f"the Dagster instance at {home} cannot be used ({first_line(exc)})") from None
    for line in dead:
        print(f"medimind launch: {line}", file=sys.stderr, flush=True)
    target = ["--job", args.job] if args.job else ["--assets", args.assets]
    print(f"medimind launch: recorded in the Dagster instance at {home}", file=sys.stderr, flush=True)
    return _run_dg(subprocess.call, home, "launch", *target, *(["--config", str(config)] if config else []))


def add_launch_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "launch",
        help="materialize assets or run a job in the project's Dagster instance (what the web UI and lineage show)",
        description="Runs `dg launch` with DAGSTER_HOME set to the project's instance (DAGSTER_HOME, else the "
        "checkout's .dagster_home/) and the project's environment, so the run is recorded where `medimind dev` and "
        "`medimind lineage` look.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "assets", nargs="?", help="an asset selection: 'merged_model', 'raw_mediqa_qa,raw_medquad,dataset'"
    )
    which.add_argument("--job", help="a job instead, e.g. medimind_pipeline")
    parser.add_argument("--config", metavar="FILE", help="run config (YAML), e.g. quickstart.yaml")
    parser.set_defaults(handler=_launch)


def _dev(args: argparse.Namespace) -> int:
    from medimind_assets.dev_server import run_dev_server

    return _run_dg(run_dev_server, _project_instance(), "dev", "--port", str(args.port), "--host", args.host)


def add_dev_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="the web UI and the daemon on the project's instance; stops with everything it started",
        description="Runs `dg dev` on the project's Dagster instance. Ctrl-C or SIGTERM stops the webserver, the "
        "daemon and the code server; so does the end of the process that started it (make).",
    )
    parser.add_argument("--port", type=_web_port, default=3000, help="web UI port (default 3000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.set_defaults(handler=_dev)


def _say(line: str) -> None:
    """A line on stdout, now (the server runs on after it); without the emoji where stdout cannot encode it."""
    try:
        print(line, flush=True)
    except UnicodeEncodeError:
        print(line.encode("ascii", "replace").decode("ascii"), flush=True)


def _serve(args: argparse.Namespace) -> int:
    from medimind_assets.llm.artifacts import ArtifactMissingError
    from medimind_assets.llm.loading import choose_device
    from medimind_assets.serving.holder import ModelHolder

    _require_data_dir(args.data_dir)
    lora_model_path = Deployment.from_env().lora_model_path
    where = f"{LORA_MODEL_PATH}={lora_model_path}: " if lora_model_path else ""
    try:
        device = choose_device(args.device)
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        from medimind_assets.serving.server import bind_address, create_app, run

        sock = bind_address(args.host, args.port)  # before loading: a port in use fails in a second, not after
    except (ValueError, OSError) as exc:
        raise CommandError(exc) from None
    try:
        holder = ModelHolder(args.data_dir, lora_model_path=lora_model_path, device=device, merge=args.merge)
        loaded = holder.load_initial()
    except (ArtifactMissingError, ValueError, OSError) as exc:
        sock.close()
        raise CommandError(f"{where}{exc}") from None
    served = loaded.served
    if served.target.adapter_dir is not None:
        _say(f"Loading LoRA adapter from: {served.target.adapter_dir} \u2705")
        source = "LORA_MODEL_PATH" if lora_model_path else f"promoted in {holder.pointer}"
        merged = ", unmerged"
        if loaded.merge:
            merged = f", merged into the base (max |logit diff| {loaded.merge['max_abs_logit_diff']:.1e})"
        _say(
            f"adapter {served.fingerprint} ({source}) on base {served.base_model}, trained on dataset "
            f"{served.dataset_version or 'unknown'}; loaded in {loaded.load_s:.1f}s on {loaded.device}{merged}"
        )
    else:
        _say(
            f"No LoRA adapter ({LORA_MODEL_PATH} unset, nothing promoted yet): serving the base model "
            f"{served.base_model} ({served.target.model_dir}) alone; loaded in {loaded.load_s:.1f}s on {loaded.device}"
        )
    if holder.watching and args.reload_interval > 0:
        _say(f"watching {holder.pointer} every {args.reload_interval:g}s: a new promotion is served once it loads")
    app = create_app(
        holder,
        max_new_tokens=args.max_new_tokens,
        max_prompt_tokens=args.max_prompt_tokens,
        max_batch_size=args.max_batch_size,
        max_waiting=args.max_waiting,
        reload_interval=args.reload_interval,
        repetition_penalty=args.repetition_penalty,
    )
    run(app, sock, log_level=args.log_level)
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
    _add_max_prompt_tokens(parser)
    parser.add_argument(
        "--max-batch-size",
        type=_positive_int,
        default=8,
        help="waiting requests answered together in one generation (default 8; 1: one at a time)",
    )
    parser.add_argument(
        "--max-waiting",
        type=_positive_int,
        default=32,
        help="requests that may wait for the generation; one more is answered 503 with Retry-After (default 32)",
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
    _add_repetition_penalty(parser)
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
    add_dev_command,
    add_launch_command,
    add_lineage_command,
    add_retention_command,
    add_status_command,
    add_serve_command,
]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="medimind", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()  # the defaults read the deployment settings
    except SettingError as exc:
        print(f"medimind: {exc}", file=sys.stderr)
        return EXIT_MISSING
    args, extra = parser.parse_known_args(argv)
    try:
        if extra:  # named by the subcommand, whose --help lists what it takes
            raise CommandError(f"unrecognized arguments: {' '.join(extra)} (see medimind {args.command} --help)")
        return args.handler(args)
    except CommandError as exc:
        print(f"medimind {args.command}: {exc}", file=sys.stderr)
        return EXIT_MISSING
    except BrokenPipeError:  # `medimind status | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0
    except KeyboardInterrupt:  # Ctrl-C while a model loads: one line, the shell's code for SIGINT, no traceback
        print(f"medimind {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

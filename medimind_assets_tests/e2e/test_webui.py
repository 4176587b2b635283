"""The whole pipeline through the web UI: `dagster dev` (webserver + daemon) on a free port, a run of the
`medimind_pipeline` job on tiny-phi launched through GraphQL, the results read back through GraphQL, and the asset
graph and asset pages checked (and photographed for the README) in headless Chromium."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from medimind_assets_tests.e2e import contract
from medimind_assets_tests.e2e.browser import (
    GRAPH_VIEWPORT,
    PAGE_VIEWPORT,
    chromium,
    chromium_missing_reason,
    filter_metadata,
    graph_clip,
    new_page,
    open_expanded_asset_graph,
    wait_for_texts,
)
from medimind_assets_tests.e2e.environment import (
    PROJECT_ROOT,
    ROOT_INSTANCE_CONFIG,
    SCREENSHOTS,
    pipeline_env,
    publish,
    require_tool,
    sha256_file,
    write_instance_config,
)
from medimind_assets_tests.e2e.processes import Service, free_port, running_service, wait_until
from medimind_assets_tests.e2e.webui_graphql import (
    AssetState,
    active_run_ids,
    location_status,
    read_asset,
    run_error_report,
    stop_automation_sensors,
)

# A fast training run that still learns: tiny-phi barely moves in 20 steps at the default learning rate (2e-4),
# and the evaluation's blocking promotion gate (held-out loss better by 0.01) would fail the run; at 1e-2 it
# improves by ~0.1. tiny-phi's rankings are chance and its answers loop, trained or not, so, as in quickstart.yaml,
# only the loss and safety gate it. Ops the job does not contain are dropped before launch and reported as missing.
RUN_CONFIG = {
    "ops": {
        "lora_adapter": {
            "config": {
                "max_steps": 20,
                "num_epochs": 1,
                "learning_rate": 1e-2,
                "gradient_accumulation_steps": 1,
                "preference_max_pairs": 8,  # the default preference stage in the run, kept short
            }
        },
        "evaluation": {
            "config": {
                "max_new_tokens": 64,
                "ranking_tolerance": 1.0,
                "eos_tolerance": 1.0,
                "degenerate_tolerance": 1.0,
            }
        },
    }
}
JOB = "medimind_pipeline"
LOCATION = "medimind_assets"
SOURCES = ("raw_mediqa_qa", "raw_medquad")  # observed at the start of the job, never materialized
PIPELINE_ASSETS = (*SOURCES, "dataset", "base_model", "lora_adapter", "evaluation")
OPTIONAL_ASSETS = ("merged_model",)
STARTUP_TIMEOUT_S = 90
RUN_TIMEOUT_S = 180

pytestmark = pytest.mark.e2e


@dataclass
class DevServer:
    port: int
    service: Service
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graphql(self) -> str:
        return f"{self.url}/graphql"


@dataclass
class PipelineRun:
    run_id: str
    status: str
    seconds: float
    states: dict[str, AssetState | None]
    skipped_config: list[str]


def _answers(url: str) -> bool | None:
    try:
        return True if requests.get(f"{url}/server_info", timeout=2).ok else None
    except requests.RequestException:
        return None


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    root = tmp_path_factory.mktemp("webui")
    home, data_dir = root / "dagster_home", root / "data"
    # The repo's dagster.yaml (pool limits) when present; no newsletter pop-up over the screenshots.
    write_instance_config(home, ROOT_INSTANCE_CONFIG, nux={"enabled": False}, telemetry={"enabled": False})
    port = free_port()
    # What `make dev` runs: `dg dev` on the instance DAGSTER_HOME names, stopped with all it started.
    command = [sys.executable, "-m", "medimind_assets.cli", "dev", "--host", "127.0.0.1", "--port", str(port)]
    env = pipeline_env(data_dir, home)
    with running_service("dagster-dev", command, cwd=PROJECT_ROOT, env=env, log_path=root / "dagster-dev.log") as svc:
        server = DevServer(port=port, service=svc, data_dir=data_dir)
        wait_until(lambda: _answers(server.url), timeout=STARTUP_TIMEOUT_S, what="the webserver", service=svc)
        wait_until(
            lambda: location_status(server.graphql, LOCATION),
            timeout=STARTUP_TIMEOUT_S,
            what=f"code location {LOCATION} to load",
            service=svc,
        )
        # The daemon would otherwise start runs of its own (automation conditions) while the test reads results.
        stopped = stop_automation_sensors(server.graphql, LOCATION)
        print(f"stopped automation sensors: {stopped or 'none running'}")
        wait_until(
            lambda: True if not active_run_ids(server.graphql) else None,
            timeout=STARTUP_TIMEOUT_S,
            what="runs started by automation before its sensor stopped",
            service=svc,
        )
        yield server


def _run_config_for(states: dict[str, AssetState | None]) -> tuple[dict, list[str]]:
    in_job = {key for key, state in states.items() if state is not None and JOB in state.job_names}
    ops = {op: cfg for op, cfg in RUN_CONFIG["ops"].items() if op in in_job}
    return {**RUN_CONFIG, "ops": ops}, sorted(set(RUN_CONFIG["ops"]) - set(ops))


@pytest.fixture(scope="module")
def pipeline_run(dagster_dev: DevServer) -> PipelineRun:
    from dagster_graphql import DagsterGraphQLClient

    before = {key: read_asset(dagster_dev.graphql, key) for key in PIPELINE_ASSETS}
    run_config, skipped = _run_config_for(before)
    client = DagsterGraphQLClient("127.0.0.1", port_number=dagster_dev.port)
    started = time.monotonic()
    run_id = client.submit_job_execution(JOB, repository_location_name=LOCATION, run_config=run_config)

    def finished() -> str | None:
        status = client.get_run_status(run_id).value
        return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

    try:
        status = wait_until(finished, timeout=RUN_TIMEOUT_S, what=f"run {run_id} of {JOB}", interval=2.0)
    except TimeoutError:
        status = f"still {client.get_run_status(run_id).value} after the {RUN_TIMEOUT_S} s limit"
    seconds = time.monotonic() - started
    if status != "SUCCESS":
        report = run_error_report(dagster_dev.graphql, run_id)
        print(f"run {run_id} ended {status}:\n{report}")
        pytest.fail(f"run {run_id} of {JOB} ended {status} after {seconds:.0f} s:\n{report}")
    states = {key: read_asset(dagster_dev.graphql, key) for key in (*PIPELINE_ASSETS, *OPTIONAL_ASSETS)}
    print(f"run {run_id} of {JOB} succeeded in {seconds:.0f} s")
    return PipelineRun(run_id=run_id, status=status, seconds=seconds, states=states, skipped_config=skipped)


def _materialized_problems(run: PipelineRun) -> list[str]:
    problems = [f"run config for {op} not applied: {op} is not in job {JOB}" for op in run.skipped_config]
    for key in PIPELINE_ASSETS:
        state = run.states[key]
        if state is None:
            problems.append(f"{key}: not defined in code location {LOCATION}")
        elif JOB not in state.job_names:
            problems.append(f"{key}: not in job {JOB} (jobs: {state.job_names})")
        elif state.latest is None or state.latest.run_id != run.run_id:
            problems.append(f"{key}: not {'observed' if key in SOURCES else 'materialized'} by run {run.run_id}")
        elif state.latest.observed != (key in SOURCES):
            problems.append(f"{key}: {'materialized' if key in SOURCES else 'only observed'} by run {run.run_id}")
    for key in OPTIONAL_ASSETS:
        state = run.states[key]
        if state is not None and (JOB in state.job_names or (state.latest and state.latest.run_id == run.run_id)):
            problems.append(f"{key}: optional, yet part of {JOB}")
    return problems


def test_pipeline_run_records_the_contract(dagster_dev: DevServer, pipeline_run: PipelineRun) -> None:
    states = pipeline_run.states
    problems = _materialized_problems(pipeline_run)

    dataset = states["dataset"]
    if dataset is not None and dataset.latest is not None:
        on_disk = dagster_dev.data_dir / "dataset.jsonl"
        problems += contract.dataset_problems(dataset.latest, sha256_file(on_disk) if on_disk.is_file() else None)
    # The blocking checks (dataset rules, the evaluation's promotion gate) ran on this run's materializations.
    for key in ("dataset", "evaluation"):
        state = states[key]
        if state is None or state.latest is None:
            continue
        if not state.checks:
            problems.append(f"{key}: no asset checks")
        problems += [
            f"{key}: check {name} is {status}, not SUCCEEDED"
            for name, status in sorted(state.checks.items())
            if status != "SUCCEEDED"
        ]
    adapter = states["lora_adapter"]
    if adapter is not None and adapter.latest is not None:
        max_steps = RUN_CONFIG["ops"]["lora_adapter"]["config"]["max_steps"]
        problems += contract.adapter_problems(adapter.latest, expected_max_steps=max_steps)
    evaluation = states["evaluation"]
    if evaluation is not None and evaluation.latest is not None:
        problems += contract.evaluation_problems(evaluation.latest)

    for key in ("dataset", "base_model", "lora_adapter", "evaluation"):
        if states[key] is not None:
            problems += contract.lineage_problems(states[key], states)

    assert not problems, "the pipeline run broke the contract:\n- " + "\n- ".join(problems)


def _photograph(page, name: str, scratch: Path, publishable: bool, clip: dict | None = None) -> None:
    """Screenshot into the test's folder; also into docs/screenshots when the page showed what it should."""
    shot = scratch / name
    page.screenshot(path=str(shot), clip=clip)
    if publishable and SCREENSHOTS is not None:
        publish(shot, SCREENSHOTS / name)


def _short_texts(state: AssetState | None, label_part: str) -> list[str]:
    """Text metadata values whose label contains `label_part` (e.g. the adapter's fingerprint)."""
    if state is None or state.latest is None:
        return []
    meta = state.latest.metadata
    return [v for k, v in meta.items() if label_part in k and isinstance(v, str) and 0 < len(v) < 80]


def _check_graph(browser, server: DevServer, scratch: Path) -> list[str]:
    page = new_page(browser, GRAPH_VIEWPORT, scale=1.5)
    open_expanded_asset_graph(page, server.url, a_group="sources")
    missing = wait_for_texts(page, list(PIPELINE_ASSETS))
    # Full asset cards (not the zoomed-out outline) show each asset's checks and latest materialization.
    cards = wait_for_texts(page, ["Latest event"], timeout_s=10)
    _photograph(page, "asset-graph.png", scratch, publishable=not missing and not cards, clip=graph_clip(page))
    return [f"asset graph: {key} not shown" for key in missing]


def _check_dataset_page(browser, server: DevServer, run: PipelineRun, scratch: Path) -> list[str]:
    dataset = run.states["dataset"]
    sha = dataset.latest.metadata.get("sha256") if dataset and dataset.latest else None
    page = new_page(browser, PAGE_VIEWPORT)
    page.goto(f"{server.url}/assets/dataset")
    texts = ["rows/split/train", "rows/split/test", "sha256", "raw_data_versions", *([sha] if sha else [])]
    missing = wait_for_texts(page, texts)
    _photograph(page, "dataset.png", scratch, publishable=not missing)
    return [f"dataset page: {text!r} not shown" for text in missing]


def _check_adapter_page(browser, server: DevServer, run: PipelineRun, scratch: Path) -> list[str]:
    adapter = run.states["lora_adapter"]
    if adapter is None or adapter.latest is None:
        return ["lora_adapter page: the asset is not materialized, nothing to show"]
    page = new_page(browser, PAGE_VIEWPORT)
    page.goto(f"{server.url}/assets/lora_adapter")
    fingerprint = wait_for_texts(page, _short_texts(adapter, "fingerprint")[:1])
    filter_metadata(page, "loss")  # the loss curve table and the final losses, on one screen
    essential = wait_for_texts(page, ["final_train_loss"])
    contract_only = wait_for_texts(page, ["final_validation_loss"], timeout_s=2)
    _photograph(page, "lora-adapter.png", scratch, publishable=not fingerprint and not essential)
    return [f"lora_adapter page: {text!r} not shown" for text in [*fingerprint, *essential, *contract_only]]


FIRST_VIEW = {"width": 1400, "height": 1000}  # a laptop's browser window: what an operator sees before scrolling


def _on_first_view(page, text: str) -> bool:
    """Whether `text` is shown inside the window, without scrolling or clicking."""
    locator = page.get_by_text(text, exact=False).first
    try:
        locator.wait_for(state="visible", timeout=15_000)
    except Exception:  # noqa: BLE001 (Playwright's timeout error: the text never showed)
        return False
    box = locator.bounding_box()
    return box is not None and box["y"] + box["height"] <= FIRST_VIEW["height"] and box["x"] + 1 <= FIRST_VIEW["width"]


def _readable_across(page, text: str) -> bool:
    """Whether `text`, scrolled to, fits inside the window's width (no sideways scrolling to read it)."""
    locator = page.get_by_text(text, exact=False).first
    try:
        locator.scroll_into_view_if_needed(timeout=15_000)
    except Exception:  # noqa: BLE001 (Playwright's timeout error: the text never showed)
        return False
    box = locator.bounding_box()
    return box is not None and box["x"] + box["width"] <= FIRST_VIEW["width"]


def _check_first_views(browser, server: DevServer, run: PipelineRun, scratch: Path) -> list[str]:
    """The loss curve on the adapter's page and the gate's verdict and reasons on the evaluation's, in the
    first view at 1,400 pixels, no click; the lineage table's short hashes inside the window's width."""
    problems = []
    adapter, evaluation = run.states["lora_adapter"], run.states["evaluation"]
    for asset, state, keys in (
        ("lora_adapter", adapter, ["loss_curve_summary"]),
        ("evaluation", evaluation, ["gate", "gate/reasons"]),
    ):
        if state is None or state.latest is None:
            problems.append(f"{asset}: not materialized, nothing to show")
            continue
        page = new_page(browser, FIRST_VIEW)
        page.goto(f"{server.url}/assets/{asset}")
        for key in keys:
            value = str(state.latest.metadata.get(key, ""))
            shown = value.split("; ")[0][:60]  # the first reason is enough to find the entry
            if not value or not _on_first_view(page, shown):
                problems.append(f"{asset} page: {key} ({shown!r}) not on the first view")
        lineage_hash = next(
            (v for v in (state.latest.metadata.get("lineage_full") or [{}])[0].values() if len(str(v)) >= 40), None
        )
        if lineage_hash and not _readable_across(page, str(lineage_hash)[:12]):
            problems.append(f"{asset} page: the lineage table's {str(lineage_hash)[:12]} is past the window's width")
        _photograph(page, f"{asset}-first-view.png", scratch, publishable=not problems)
    return problems


def test_web_ui_shows_graph_and_metadata(dagster_dev: DevServer, pipeline_run: PipelineRun, tmp_path: Path) -> None:
    require_tool(chromium_missing_reason())
    with chromium() as browser:
        problems = [
            *_check_graph(browser, dagster_dev, tmp_path),
            *_check_dataset_page(browser, dagster_dev, pipeline_run, tmp_path),
            *_check_adapter_page(browser, dagster_dev, pipeline_run, tmp_path),
            *_check_first_views(browser, dagster_dev, pipeline_run, tmp_path),
        ]
    assert not problems, "the web UI does not show what the run recorded:\n- " + "\n- ".join(problems)

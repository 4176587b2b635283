"""Reading a running Dagster webserver through its GraphQL API: code location status, materializations (or, for
observed assets such as the raw sources, observations) with their metadata and tags, asset check results and a
run's error events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import requests

_METADATA_FIELDS = """
label
__typename
... on IntMetadataEntry { intValue }
... on FloatMetadataEntry { floatValue }
... on BoolMetadataEntry { boolValue }
... on TextMetadataEntry { text }
... on JsonMetadataEntry { jsonString }
... on MarkdownMetadataEntry { mdStr }
... on PathMetadataEntry { path }
... on UrlMetadataEntry { url }
... on TableMetadataEntry { table { records schema { columns { name } } } }
"""

ASSET_QUERY = f"""
query Asset($key: AssetKeyInput!) {{
  assetNodes(assetKeys: [$key]) {{
    jobNames
    dependencyKeys {{ path }}
    assetMaterializations(limit: 1) {{
      runId
      tags {{ key value }}
      metadataEntries {{ {_METADATA_FIELDS} }}
    }}
    assetObservations(limit: 1) {{
      runId
      tags {{ key value }}
      metadataEntries {{ {_METADATA_FIELDS} }}
    }}
    assetChecksOrError {{
      __typename
      ... on AssetChecks {{
        checks {{ name blocking executionForLatestMaterialization {{ status runId }} }}
      }}
    }}
  }}
}}
"""

LOCATIONS_QUERY = """
query Locations {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""

RUN_EVENTS_QUERY = """
query RunEvents($runId: ID!) {
  logsForRun(runId: $runId, limit: 5000) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message level stepKey }
        ... on ExecutionStepFailureEvent { error { message stack causes { message } } }
        ... on RunFailureEvent { error { message stack } }
      }
    }
    ... on PythonError { message }
  }
}
"""


SENSORS_QUERY = """
query Sensors($selector: RepositorySelector!) {
  sensorsOrError(repositorySelector: $selector) {
    __typename
    ... on Sensors { results { name sensorType sensorState { id status } } }
    ... on PythonError { message }
  }
}
"""

STOP_SENSOR_MUTATION = """
mutation StopSensor($id: String!) {
  stopSensor(id: $id) { __typename ... on PythonError { message } }
}
"""

ACTIVE_RUNS_QUERY = """
query ActiveRuns {
  runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED, CANCELING]}) {
    __typename
    ... on Runs { results { runId } }
  }
}
"""

AUTOMATION_SENSOR_TYPES = ("AUTOMATION", "AUTO_MATERIALIZE")
# Plain sensors too: `medimind_raw_sources` records observations (and may start download runs) on its own.
STOPPED_SENSOR_TYPES = (*AUTOMATION_SENSOR_TYPES, "STANDARD")


class GraphQLError(RuntimeError):
    pass


def execute(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = requests.post(url, json={"query": query, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise GraphQLError(f"GraphQL errors from {url}: {json.dumps(body['errors'])[:2000]}")
    return body["data"]


def _metadata_value(entry: dict[str, Any]) -> Any:
    kind = entry["__typename"]
    if kind == "IntMetadataEntry":
        return entry.get("intValue")
    if kind == "FloatMetadataEntry":
        return entry.get("floatValue")
    if kind == "BoolMetadataEntry":
        return entry.get("boolValue")
    if kind == "TextMetadataEntry":
        return entry.get("text")
    if kind == "JsonMetadataEntry":
        return json.loads(entry["jsonString"])
    if kind == "MarkdownMetadataEntry":
        return entry.get("mdStr")
    if kind == "PathMetadataEntry":
        return entry.get("path")
    if kind == "UrlMetadataEntry":
        return entry.get("url")
    if kind == "TableMetadataEntry":
        table = entry.get("table") or {}
        return [json.loads(record) for record in table.get("records", [])]
    return None


@dataclass
class Materialization:
    """An asset's latest materialization, or its latest observation for an observed asset (`observed`)."""

    run_id: str
    tags: dict[str, str]
    metadata: dict[str, Any]
    metadata_types: dict[str, str]
    observed: bool = False

    @property
    def data_version(self) -> str | None:
        return self.tags.get("dagster/data_version")

    def input_data_versions(self) -> dict[str, str]:
        prefix = "dagster/input_data_version/"
        return {key[len(prefix) :]: value for key, value in self.tags.items() if key.startswith(prefix)}


@dataclass
class AssetState:
    key: str
    job_names: list[str]
    parents: list[str]
    latest: Materialization | None
    checks: dict[str, str | None] = field(default_factory=dict)  # check name -> status for the latest materialization


def read_asset(url: str, key: str) -> AssetState | None:
    """The asset's definition facts and latest materialization (else observation), or None when the code location
    has no such asset."""
    nodes = execute(url, ASSET_QUERY, {"key": {"path": key.split("/")}})["assetNodes"]
    if not nodes:
        return None
    node = nodes[0]
    latest = None
    events = node["assetMaterializations"] or node["assetObservations"]
    if events:
        event = events[0]
        entries = event["metadataEntries"]
        latest = Materialization(
            run_id=event["runId"],
            tags={tag["key"]: tag["value"] for tag in event["tags"]},
            metadata={entry["label"]: _metadata_value(entry) for entry in entries},
            metadata_types={entry["label"]: entry["__typename"] for entry in entries},
            observed=not node["assetMaterializations"],
        )
    checks: dict[str, str | None] = {}
    if node["assetChecksOrError"]["__typename"] == "AssetChecks":
        for check in node["assetChecksOrError"]["checks"]:
            execution = check["executionForLatestMaterialization"]
            checks[check["name"]] = execution["status"] if execution else None
    return AssetState(
        key=key,
        job_names=node["jobNames"],
        parents=["/".join(dep["path"]) for dep in node["dependencyKeys"]],
        latest=latest,
        checks=checks,
    )


def location_status(url: str, location: str) -> str | None:
    """LOADED once the code location is ready; raises if it failed to load; None while loading or unknown."""
    workspace = execute(url, LOCATIONS_QUERY)["workspaceOrError"]
    if workspace["__typename"] != "Workspace":
        return None
    for entry in workspace["locationEntries"]:
        if entry["name"] != location:
            continue
        error = entry["locationOrLoadError"]
        if error and error["__typename"] == "PythonError":
            raise GraphQLError(f"code location {location} failed to load: {error['message']}")
        return "LOADED" if entry["loadStatus"] == "LOADED" and error else None
    return None


def run_error_report(url: str, run_id: str) -> str:
    """The run's failures and error-level messages, for the assertion message of a failed run."""
    logs = execute(url, RUN_EVENTS_QUERY, {"runId": run_id})["logsForRun"]
    if logs["__typename"] != "EventConnection":
        return f"could not read the events of run {run_id}: {logs.get('message')}"
    lines = []
    for event in logs["events"]:
        error = event.get("error")
        if error:
            causes = " <- ".join(cause["message"] for cause in error.get("causes") or [])
            lines.append(f"[{event.get('stepKey') or 'run'}] {event['__typename']}: {error['message']}")
            if causes:
                lines.append(f"    caused by: {causes}")
            lines.append("    " + "".join(error.get("stack") or [])[-3000:].replace("\n", "\n    "))
        elif event.get("level") in ("ERROR", "CRITICAL"):
            lines.append(f"[{event.get('stepKey') or 'run'}] {event['level']}: {event.get('message')}")
    return "\n".join(lines) or f"run {run_id} reported no error events"


def stop_automation_sensors(url: str, location: str, repository: str = "__repository__") -> list[str]:
    """Stop the location's running automation sensors and the sensors that observe the raw sources, so that only the
    runs a test launches touch its assets."""
    selector = {"repositoryLocationName": location, "repositoryName": repository}
    sensors = execute(url, SENSORS_QUERY, {"selector": selector})["sensorsOrError"]
    if sensors["__typename"] != "Sensors":
        raise GraphQLError(f"could not list the sensors of {location}: {sensors.get('message')}")
    stopped = []
    for sensor in sensors["results"]:
        state = sensor["sensorState"]
        if sensor["sensorType"] in STOPPED_SENSOR_TYPES and state["status"] == "RUNNING":
            result = execute(url, STOP_SENSOR_MUTATION, {"id": state["id"]})["stopSensor"]
            if result["__typename"] == "PythonError":
                raise GraphQLError(f"could not stop sensor {sensor['name']}: {result['message']}")
            stopped.append(sensor["name"])
    return stopped


def active_run_ids(url: str) -> list[str]:
    runs = execute(url, ACTIVE_RUNS_QUERY)["runsOrError"]
    return [run["runId"] for run in runs.get("results", [])] if runs["__typename"] == "Runs" else []

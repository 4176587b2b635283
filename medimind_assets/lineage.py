"""Walk back from the promoted adapter to the dataset version and the raw files (with sha256) that produced it.

Reads Dagster's event log (the instance under DAGSTER_HOME): every materialization records its data version and
the data versions of its inputs (`dagster/input_data_version/<asset>` tags), so the chain is exact, not a guess
from what happens to be on disk now. The raw sources are observed, not materialized: their link is the latest
observation with the recorded version, whose metadata lists every file's sha256.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from medimind_assets.digests import sha256_file
from medimind_assets.errors import MediMindError
from medimind_assets.store import ArtifactStore, PointerError

DATA_VERSION_TAG = "dagster/data_version"
INPUT_TAG = "dagster/input_data_version/"
SOURCES = ("raw_mediqa_qa", "raw_medquad")
# What the web UI's table shows (narrow enough for a 1,400-pixel window): the paths are in the JSON beside it.
LINEAGE_TABLE_COLUMNS = ["asset", "version", "what"]


class LineageError(MediMindError, LookupError):
    pass


@dataclass
class Link:
    asset: str
    data_version: str
    run_id: str
    inputs: dict[str, str]
    metadata: dict[str, object]


def _links(instance: dg.DagsterInstance, asset: str, observed: bool = False) -> Iterator[Link]:
    """The materializations (observations, for a source) of `asset`, the latest first."""
    fetch = instance.fetch_observations if observed else instance.fetch_materializations
    for record in fetch(dg.AssetKey(asset), limit=1000).records:
        event = record.asset_observation if observed else record.asset_materialization
        if event is not None:
            tags = event.tags or {}
            yield Link(
                asset=asset,
                data_version=str(tags.get(DATA_VERSION_TAG)),
                run_id=record.run_id,
                inputs={k[len(INPUT_TAG) :]: v for k, v in tags.items() if k.startswith(INPUT_TAG)},
                metadata={k: getattr(v, "value", v) for k, v in event.metadata.items()},
            )


def _find(instance: dg.DagsterInstance, asset: str, data_version: str | None, observed: bool = False) -> Link:
    """The latest materialization (observation, for a source) of `asset` with `data_version` (or the latest at all
    when None)."""
    for link in _links(instance, asset, observed):
        if data_version is None or link.data_version == data_version:
            return link
    kind = "observation" if observed else "materialization"
    wanted = f"data version {data_version}" if data_version else f"any {kind}"
    raise LineageError(f"no {kind} of {asset} with {wanted} in this Dagster instance")


def promoted_fingerprint(store: ArtifactStore) -> str:
    try:
        payload = store.read_promoted()
    except PointerError as exc:
        raise LineageError(str(exc)) from None
    if payload is None:
        raise LineageError(
            f"no promoted adapter: {store.current_pointer} does not exist (materialize evaluation first)"
        )
    return payload["fingerprint"]


def raw_versions(dataset: Link) -> dict[str, str]:
    """The source versions the dataset was built from: the hashes of the files it read (`raw_data_versions`), which
    Dagster's input tags (the last observation before the run) miss when a file was edited after it."""
    read = dataset.metadata.get("raw_data_versions")
    if isinstance(read, dict):
        return {source: str(read[source]) for source in SOURCES if source in read}
    return {source: dataset.inputs[source] for source in SOURCES if source in dataset.inputs}


def _full_fingerprint(instance: dg.DagsterInstance, fingerprint: str) -> str:
    """A fingerprint as given, or the one adapter whose fingerprint starts with it (the UI shows 12 characters)."""
    if len(fingerprint) >= 64:
        return fingerprint
    adapters = _links(instance, "lora_adapter")
    versions = {link.data_version for link in adapters if link.data_version.startswith(fingerprint)}
    if len(versions) > 1:
        raise LineageError(f"{fingerprint} starts {len(versions)} adapters' fingerprints: give more of it")
    return versions.pop() if versions else fingerprint


def lineage_chain(instance: dg.DagsterInstance, adapter_fingerprint: str) -> list[Link]:
    """adapter -> dataset -> raw sources (and the base model), each the exact version used: the dataset the adapter
    recorded training on (its `identifiers`), which Dagster's input tag, taken as the step started, can miss (a
    dataset rebuilt meanwhile, or published by a step that then failed); a disagreement is shown."""
    adapter = _find(instance, "lora_adapter", _full_fingerprint(instance, adapter_fingerprint))
    chain = [adapter]
    identifiers = adapter.metadata.get("identifiers")
    trained_on = identifiers.get("dataset_version") if isinstance(identifiers, dict) else None
    tagged = adapter.inputs.get("dataset")
    version = trained_on or tagged
    if trained_on and tagged and trained_on != tagged:
        adapter.metadata["warning"] = (
            f"Dagster's input tag names dataset {tagged}, but the adapter was trained on {trained_on} (the file "
            "changed between the step's start and its read): the chain follows what it trained on"
        )
    if version:
        adapter.inputs["dataset"] = version
    try:
        dataset = _find(instance, "dataset", version)
    except LineageError:  # written by a dataset step that failed after publishing: no materialization records it
        chain.append(Link("dataset", str(version), "", {}, {"unrecorded": "no materialization of this version"}))
        dataset = None
    else:
        chain.append(dataset)
    if "base_model" in adapter.inputs:
        base = _find(instance, "base_model", adapter.inputs["base_model"])
        chain.append(Link(base.asset, base.data_version, base.run_id, {}, base.metadata))  # its version is the link
    if dataset is None:
        return chain
    walked = raw_versions(dataset)
    dataset.inputs = {**{k: v for k, v in dataset.inputs.items() if k not in SOURCES}, **walked}  # as walked
    for source, version in walked.items():
        try:
            chain.append(_find(instance, source, version, observed=True))
        except LineageError:  # read before any observation recorded it: its files cannot be listed
            chain.append(Link(source, version, "", {}, {"unrecorded": "no observation of this version recorded"}))
    return chain


def format_chain(chain: list[Link], store: ArtifactStore | None = None) -> str:
    """The chain as text. A kept dataset version recorded under another folder (the data folder moved or mounted
    elsewhere) is looked for in `store` too, by its content hash."""
    lines = []
    for link in chain:
        origin = link.metadata.get("unrecorded") or (f"run {link.run_id}" if link.run_id else "observed, no run")
        lines.append(f"{link.asset}  data version {link.data_version}  ({origin})")
        if "warning" in link.metadata:
            lines.append(f"    warning: {link.metadata['warning']}")
        lines.extend(f"    input {name} = {version}" for name, version in sorted(link.inputs.items()))
        if "path" in link.metadata:
            lines.append(f"    path {link.metadata['path']}")
        if "versioned_path" in link.metadata:  # the dataset version itself, kept after the next build
            kept = Path(str(link.metadata["versioned_path"]))
            if not kept.is_file() and store is not None and store.dataset_version(kept.stem).is_file():
                kept = store.dataset_version(kept.stem)
            if not kept.is_file():
                state = "  (removed: the data folder no longer holds it)"
            elif (actual := sha256_file(kept)) != link.data_version:
                state = f"  (damaged: its sha256 is now {actual[:12]})"
            else:
                state = ""
            lines.append(f"    kept as {kept}{state}")
        files = link.metadata.get("file_sha256")
        if isinstance(files, dict):
            lines.extend(f"    {sha}  {name}" for name, sha in sorted(files.items()))
    return "\n".join(lines)


def _row(asset: str, version: str, what: str, where: object) -> dict[str, str]:
    return {"asset": asset, "version": version, "what": what, "where": str(where)}


def lineage_rows(instance: dg.DagsterInstance, dataset_version: str, base_model: dict) -> list[dict[str, str]]:
    """What an adapter or an evaluation came from, one row per input, for an operator to read as it is: the dataset
    of `dataset_version` (rows, path), each raw source version it was built from (files, path) and the base model
    (id, revision). An input this instance has no record of says so instead of failing the run."""
    rows: list[dict[str, str]] = []
    try:
        dataset = _find(instance, "dataset", dataset_version)
    except LineageError:
        rows.append({"asset": "dataset", "version": dataset_version, "what": "not recorded in this Dagster instance"})
    else:
        count = dataset.metadata.get("dagster/row_count")
        # The version kept under its content hash: still there after dataset.jsonl is rebuilt.
        where = dataset.metadata.get("versioned_path") or dataset.metadata.get("path", "")
        rows.append(_row("dataset", dataset_version, f"{count:,} rows" if isinstance(count, int) else "", where))
        for source, version in raw_versions(dataset).items():
            try:
                link = _find(instance, source, version, observed=True)
            except LineageError:
                rows.append({"asset": source, "version": version, "what": "observation not found"})
                continue
            files = link.metadata.get("file_count")
            what = f"{files} files" if isinstance(files, int) else ""
            rows.append(_row(source, link.data_version, what, link.metadata.get("path", "")))
    revision, name = str(base_model.get("revision", "")), str(base_model.get("name", ""))
    rows.append(_row("base_model", revision, name, base_model.get("path", "")))
    return rows

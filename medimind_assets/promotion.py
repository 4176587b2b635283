"""Adapter pointers under `<data>/adapters/` (read and written by `ArtifactStore`), and the proof that what is served
is what was evaluated: `current.json` records the adapter's file digests and the base model's weight and tokenizer
digests (docs/operations.md, "Provenance"), and `verified_promotion` checks them before anything loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from medimind_assets.atomic import directory_lock
from medimind_assets.digests import combined_hash, file_digests, sha256_text
from medimind_assets.errors import MediMindError
from medimind_assets.integrity import IntegrityError, read_json_object, read_summary, verify_digests
from medimind_assets.llm.artifacts import ArtifactMissingError, require_adapter_dir, require_model_dir
from medimind_assets.models import read_current_base_model
from medimind_assets.models.errors import BaseModelError
from medimind_assets.models.model_dir import config_digest, tokenizer_digest, weight_digests
from medimind_assets.store import MERGE_INFO, SHAPING_FILES, TRAINING_SUMMARY, ArtifactStore


@dataclass(frozen=True)
class AdapterRef:
    fingerprint: str
    path: Path


@dataclass(frozen=True)
class Promoted:
    """The promoted adapter, verified: its record, its folder and the base model folder it was evaluated on."""

    record: dict
    adapter_dir: Path
    base_dir: Path

    @property
    def fingerprint(self) -> str:
        return str(self.record["fingerprint"])


def read_latest_adapter(store: ArtifactStore) -> AdapterRef:
    """The most recent finished adapter (training's `latest.json`); its folder must hold a verified adapter."""
    payload = store.read_latest()
    if payload is None:
        raise ArtifactMissingError(
            f"no trained adapter (materialize lora_adapter first): {store.latest_pointer} does not exist"
        )
    return AdapterRef(fingerprint=str(payload["fingerprint"]), path=require_adapter_dir(Path(payload["path"])))


def read_promoted(store: ArtifactStore) -> dict:
    """The `current.json` record, `path` resolved; ArtifactMissingError when nothing is promoted."""
    payload = store.read_promoted()
    if payload is None:
        raise ArtifactMissingError(
            f"no promoted adapter (no adapter has passed evaluation yet): {store.current_pointer} does not exist"
        )
    payload["path"] = str(require_adapter_dir(Path(payload["path"])))
    return payload


class Superseded(MediMindError):
    """The evaluated adapter passed the gate, but a newer one was trained while it was evaluated: promoting it would
    take the promotion back from the newer adapter (or from its evaluation, when that finished first)."""


def promote(store: ArtifactStore, adapter: AdapterRef, record: dict) -> dict:
    """Point `current.json` at `adapter`, if it is still the latest adapter (Superseded otherwise); `record` adds
    provenance (data versions, base model, metrics). Paths are stored relative to the data folder, also the base
    model's and the evaluation report's. Evaluations promote one at a time."""
    base = dict(record.get("base_model") or {})
    if base.get("path"):
        base["path"] = store.relative(base["path"])
    with directory_lock(store.adapters, "promotion"):
        latest = store.read_latest()
        if latest is not None and latest["fingerprint"] != adapter.fingerprint:
            raise Superseded(
                f"adapter {adapter.fingerprint} passed the gate but is not promoted: adapter {latest['fingerprint']} "
                f"was trained while it was evaluated ({store.latest_pointer}), and the newest adapter is the one "
                "to evaluate and promote"
            )
        payload = {
            **record,
            "base_model": base,
            "fingerprint": adapter.fingerprint,
            "path": str(Path(adapter.path).resolve()),
            "promoted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        return store.write_promoted(payload)


def promoted_version_of(record: dict | None) -> str:
    """`evaluation`'s data version: the promoted adapter and the digest of its evaluated files, so that the same
    adapter promoted again with other bytes (trained again after damage) is a new version to merge."""
    if not record:
        return "promoted:none"
    files = record.get("adapter_files")
    digest = f":{combined_hash(files)[:12]}" if isinstance(files, dict) and files else ""
    return f"promoted:{record['fingerprint']}{digest}"


def verified_promotion(store: ArtifactStore) -> Promoted:
    """The promoted adapter and its base, checked to be exactly what the gate evaluated; ArtifactMissingError with
    one line naming what differs otherwise (an adapter folder rewritten since, base weights or a tokenizer edited
    in place, an adapter trained with another tokenizer)."""
    record = read_promoted(store)
    recorded = record.get("base_model") or {}
    # What an evaluation writes (`promotion_record`): a pointer written by hand proves nothing it names.
    proofs = {
        "adapter_files": isinstance(record.get("adapter_files"), dict) and bool(record["adapter_files"]),
        "base_model.content_hash": bool(recorded.get("content_hash")),
        "gate.passed": (record.get("gate") or {}).get("passed") is True,
    }
    if missing := [name for name, present in proofs.items() if not present]:
        raise ArtifactMissingError(
            f"{store.current_pointer} is not a promotion an evaluation recorded (no {', '.join(missing)}): what it names "
            "was never proven to be what passed the gate; evaluate the adapter to promote it"
        )
    adapter_dir = Path(record["path"])
    trained = read_summary(adapter_dir).get("fingerprint")
    if not trained:
        raise ArtifactMissingError(
            f"not the promoted adapter: {adapter_dir} has no training summary ({TRAINING_SUMMARY}), so its files "
            "cannot be checked; evaluate it again"
        )
    if trained != record["fingerprint"]:
        raise ArtifactMissingError(
            f"not the promoted adapter: {adapter_dir} holds adapter {trained}, {store.current_pointer} promotes "
            f"{record['fingerprint']} (the pointer was edited or the folder replaced); evaluate it again"
        )
    try:
        verify_digests(adapter_dir, record["adapter_files"], "adapter when it was evaluated and promoted")
    except IntegrityError as exc:
        raise ArtifactMissingError(f"not the promoted adapter: {exc}; evaluate it again") from None
    base_dir = promoted_base_dir(record, store)
    name = recorded.get("name") or base_dir.name
    if (actual := base_weights_hash(store, base_dir)) != recorded["content_hash"]:
        raise ArtifactMissingError(
            f"the base model {name} in {base_dir} has weights {actual[:12]}, not the {recorded['content_hash'][:12]} "
            "the promoted adapter was evaluated on: restore them, or train and evaluate again"
        )
    if recorded.get("config_hash") and config_digest(base_dir) != recorded["config_hash"]:
        raise ArtifactMissingError(
            f"the config.json of base model {name} in {base_dir} was changed after the promoted adapter was evaluated "
            "on it (an architecture setting edited in place?): restore it, or resolve the base model and evaluate again"
        )
    if recorded.get("tokenizer_hash"):
        if (actual := tokenizer_digest(base_dir)) != recorded["tokenizer_hash"]:
            raise ArtifactMissingError(
                f"the tokenizer of base model {name} in {base_dir} is not the one the promoted adapter was evaluated "
                f"with ({str(actual)[:12]} vs {recorded['tokenizer_hash'][:12]})"
            )
        if tokenizer_digest(adapter_dir) not in (None, recorded["tokenizer_hash"]):
            raise ArtifactMissingError(
                f"the promoted adapter in {adapter_dir} was trained with another tokenizer than base model {name}'s"
            )
    return Promoted(record, adapter_dir, base_dir)


def base_weights_hash(store: ArtifactStore, base_dir: Path) -> str:
    """The base folder's weight digest now, as the manifest computes it, with a cache per folder (size, times and inode)."""
    cache = store.models / f".weights-{sha256_text(str(Path(base_dir).resolve()))[:16]}.json"
    return combined_hash(weight_digests(Path(base_dir), cache))


def base_weights_changed(store: ArtifactStore, manifest: dict) -> str | None:
    """Why the current base model's weights are not the ones `base_model` hashed (edited or replaced in place since),
    or None: training and evaluation would otherwise run on weights their records do not name."""
    actual = base_weights_hash(store, Path(manifest["path"]))
    if actual == manifest.get("content_hash"):
        return None
    return (
        f"the base model {manifest.get('name')} in {manifest['path']} has weights {actual[:12]}, not the "
        f"{str(manifest.get('content_hash'))[:12]} recorded when it was resolved: re-materialize base_model"
    )


def promoted_base_dir(record: dict, store: ArtifactStore) -> Path:
    """The base model the promoted adapter was evaluated on: the folder recorded at promotion, or else the
    current base model when its content hash is the recorded one."""
    recorded = record.get("base_model") or {}
    recorded_path = store.resolve(recorded["path"]) if recorded.get("path") else None
    if recorded_path is not None and recorded_path.is_dir():
        return require_model_dir(recorded_path, f"base model {recorded.get('name')}")
    try:
        manifest = read_current_base_model(store)
    except BaseModelError as exc:
        raise ArtifactMissingError(str(exc)) from None
    if recorded.get("content_hash") not in (None, manifest.get("content_hash")):
        raise ArtifactMissingError(
            f"the promoted adapter's base model {recorded.get('name')} ({recorded_path}) is gone and the current "
            f"base model {manifest.get('name')} has other weights"
        )
    return require_model_dir(Path(manifest["path"]), f"base model {manifest.get('name')}")


def verified_merge(store: ArtifactStore, merged_dir: Path, promoted: dict | None = None) -> dict:
    """The merge record of `merged_dir` (`merge_info.json`), once its weights are checked to be the files
    `merged_model` wrote and, with `promoted` (the promotion record), the merge to be of exactly the promoted
    adapter's files; IntegrityError or ArtifactMissingError naming what differs otherwise."""
    merged_dir = Path(merged_dir)
    info_path = merged_dir / MERGE_INFO
    if not info_path.is_file():
        raise IntegrityError(info_path, "does not exist: not a merge `merged_model` wrote; re-run merged_model")
    info = read_json_object(info_path, "re-run merged_model")
    if info.get("equivalence", {}).get("passed") is False:
        raise ArtifactMissingError(f"merged model {merged_dir} failed its equivalence check; re-run merged_model")
    if promoted is not None and promoted.get("adapter_files") not in (None, info.get("adapter_files")):
        raise ArtifactMissingError(
            f"merged model {merged_dir} is a merge of other adapter files than the promoted adapter's (promoted "
            "again since it was merged): re-run merged_model"
        )
    cache = store.merged / f".weights-{sha256_text(str(merged_dir.resolve()))[:16]}.json"
    for key in ("weight_files", "config_files"):  # config_files: merges written since it was recorded
        recorded = info.get(key)
        if not isinstance(recorded, dict):
            continue
        present = [name for name in recorded if (merged_dir / name).is_file()]  # a missing one differs
        actual = file_digests(merged_dir, present, cache if key == "weight_files" else None)
        changed = sorted(name for name, digest in recorded.items() if actual.get(name) != digest)
        if key == "config_files":  # one added since (a chat template) changes answers as much as one edited
            changed += [name for name in SHAPING_FILES if name not in recorded and (merged_dir / name).is_file()]
        if changed:
            raise IntegrityError(
                merged_dir / changed[0],
                "differs from the file merged_model wrote (damaged?); re-run merged_model",
            )
    return info

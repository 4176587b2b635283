"""Retention: a week of nightly re-trains (each night a new dataset version, an adapter, its evaluation and a merge,
promoted) keeps disk use bounded by the setting, and every adapter still kept leads to the dataset file it was
trained on; what is promoted or newest is never removed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from medimind_assets.atomic import directory_lock
from medimind_assets.digests import sha256_file
from medimind_assets.promotion import AdapterRef, promote
from medimind_assets.retention import adapters_in_use, apply_retention
from medimind_assets.store import ArtifactStore

WEIGHTS_BYTES = 200_000


def _night(store: ArtifactStore, night: int, *, promoted: bool = True) -> str:
    """One nightly run: a new dataset, an adapter trained on it (with checkpoints), its evaluation, its merge."""
    store.dataset.parent.mkdir(parents=True, exist_ok=True)
    store.dataset.write_text(json.dumps({"night": night, "split": "train"}) + "\n")
    version = sha256_file(store.dataset)
    store.keep_dataset_version(version)
    fingerprint = f"{night:02d}" + "f" * 62
    with directory_lock(store.checkpoints, fingerprint):  # as the training takes it: the lock file stays after it
        pass
    with directory_lock(store.evaluations, fingerprint):  # an evaluation killed before its report: its lock stays
        pass
    adapter = store.adapters / fingerprint
    adapter.mkdir(parents=True)
    (adapter / "adapter_model.safetensors").write_bytes(os.urandom(WEIGHTS_BYTES))
    summary = {
        "fingerprint": fingerprint,
        "created_at": f"2026-12-{night:02d}T02:00:00+00:00",
        "dataset": {"data_version": version},
    }
    (adapter / "training_summary.json").write_text(json.dumps(summary))
    (store.evaluations / fingerprint).mkdir(parents=True)
    (store.evaluations / fingerprint / "evaluation.json").write_text("{}")
    (store.merged / fingerprint).mkdir(parents=True)
    (store.merged / fingerprint / "model.safetensors").write_bytes(os.urandom(5 * WEIGHTS_BYTES))
    store.write_latest({"fingerprint": fingerprint, "path": str(adapter)})
    if promoted:
        promote(store, AdapterRef(fingerprint, adapter), {"dataset_data_version": version})
    return fingerprint


def _disk(store: ArtifactStore) -> int:
    return sum(p.stat().st_size for p in store.root.rglob("*") if p.is_file())


@pytest.mark.parametrize("keep", [0, 2])
def test_a_week_of_nightly_retrains_stays_bounded_and_keeps_its_lineage(tmp_path: Path, keep: int):
    store = ArtifactStore.at(tmp_path / "data")
    sizes = []
    for night in range(1, 8):
        _night(store, night)
        report = apply_retention(store, keep_adapters=keep)
        sizes.append(_disk(store))
        adapters = sorted(p.name for p in store.adapters.iterdir() if p.is_dir())
        assert len(adapters) <= 1 + keep  # the promoted (also the newest) and `keep` others
        assert report.kept[0] == f"{night:02d}" + "f" * 62
        for fingerprint in adapters:  # every adapter kept still leads to its dataset file
            summary = json.loads((store.adapters / fingerprint / "training_summary.json").read_text())
            kept = store.dataset_version(summary["dataset"]["data_version"])
            assert kept.is_file() and sha256_file(kept) == summary["dataset"]["data_version"]
        assert {p.name for p in store.evaluations.iterdir() if p.is_dir()} <= set(adapters)
        assert {p.name for p in store.merged.iterdir()} <= set(adapters)
        assert len(list(store.datasets.glob("*.jsonl"))) <= 1 + keep
        for area in (store.checkpoints, store.evaluations):  # the locks of adapters gone, gone with them
            assert {p.name[1:-5] for p in area.glob(".*.lock")} == set(adapters)
    assert max(sizes[2:]) <= sizes[2] * 1.05  # bounded: the third night on, no growth


def test_the_promoted_adapter_survives_newer_unpromoted_ones(tmp_path: Path):
    store = ArtifactStore.at(tmp_path / "data")
    promoted = _night(store, 1)
    for night in range(2, 6):  # four nights whose adapters fail the gate
        _night(store, night, promoted=False)
    apply_retention(store, keep_adapters=1)
    remaining = {p.name for p in store.adapters.iterdir() if p.is_dir()}
    assert promoted in remaining and f"05{'f' * 62}" in remaining and len(remaining) == 3
    assert adapters_in_use(store, 1)[:2] == [promoted, f"05{'f' * 62}"]
    with pytest.raises(ValueError, match="keep_adapters must be >= 0"):
        apply_retention(store, keep_adapters=-1)


def test_an_adapter_a_running_server_serves_is_kept_until_the_server_stops(tmp_path: Path):
    """A server pinned to an older adapter (LORA_MODEL_PATH) records a lease; a lease of a dead process is no pin."""
    import subprocess
    import sys

    store = ArtifactStore.at(tmp_path / "data")
    served = _night(store, 1)
    for night in range(2, 5):
        _night(store, night)
    store.write_lease(os.getpid(), store.adapters / served)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    store.write_lease(int(dead.stdout), store.adapters / f"02{'f' * 62}")  # a server killed without removing it
    elsewhere = (
        store.leases / "gpu-node-2-7.json"
    )  # a server on another host sharing the volume: its pid means nothing here
    elsewhere.write_text(json.dumps({"pid": 7, "host": "gpu-node-2", "path": f"adapters/03{'f' * 62}"}))
    leases = sorted(p.name for p in store.leases.iterdir())
    apply_retention(store, keep_adapters=0, dry_run=True)
    assert sorted(p.name for p in store.leases.iterdir()) == leases  # a dry run removes nothing, a dead lease neither
    apply_retention(store, keep_adapters=0)
    remaining = {p.name for p in store.adapters.iterdir() if p.is_dir()}
    assert remaining == {served, f"03{'f' * 62}", f"04{'f' * 62}"}
    assert {p.name for p in store.leases.iterdir()} == {store._lease(os.getpid()).name, elsewhere.name}  # dead one went
    elsewhere.unlink()
    store.remove_lease(os.getpid())
    apply_retention(store, keep_adapters=0)
    assert {p.name for p in store.adapters.iterdir() if p.is_dir()} == {f"04{'f' * 62}"}


def test_two_replicas_with_the_same_pid_on_one_volume_keep_each_their_lease(tmp_path, monkeypatch):
    """Containers are all pid 1: a lease named by the pid alone was overwritten, then removed, by the other replica."""
    import socket

    store = ArtifactStore.at(tmp_path / "data")
    for host, adapter in (("pod-a", "01"), ("pod-b", "02")):
        monkeypatch.setattr(socket, "gethostname", lambda host=host: host)
        store.write_lease(1, store.adapters / f"{adapter}{'f' * 62}")
    monkeypatch.setattr(socket, "gethostname", lambda: "pod-b")
    store.remove_lease(1)
    monkeypatch.setattr(socket, "gethostname", lambda: "pod-c")
    assert store.leased_adapters() == {store.adapters / f"01{'f' * 62}"}


@pytest.mark.parametrize("pointer", ["current.json", "latest.json"])
@pytest.mark.parametrize("content", ['{"fingerprint": "trunc', "", "[]", '{"fingerprint": "x"}', "\xff\xfe"])
def test_an_unreadable_pointer_removes_nothing(tmp_path: Path, pointer: str, content: str):
    store = ArtifactStore.at(tmp_path / "data")
    promoted = _night(store, 1)
    _night(store, 2, promoted=False)
    (store.adapters / pointer).write_text(content)  # what it protects is unknown
    report = apply_retention(store, keep_adapters=0)
    assert report.removed == [] and pointer in report.skipped and "nothing removed" in report.skipped
    assert (store.adapters / promoted).is_dir()
    assert pointer in report.as_dict()["skipped"]


def test_a_quiet_checkpoint_folder_of_a_running_training_is_kept(tmp_path: Path):
    store = ArtifactStore.at(tmp_path / "data")
    _night(store, 1)
    folder = store.checkpoints / ("9" * 64)
    (folder / "checkpoint-1").mkdir(parents=True)
    day_ago = time.time() - 2 * 24 * 3600
    for path in (folder / "checkpoint-1", folder):
        os.utime(path, (day_ago, day_ago))
    with directory_lock(store.checkpoints, folder.name):
        apply_retention(store)
        assert folder.is_dir()
    apply_retention(store)
    assert not folder.exists()


def test_the_lock_of_a_removed_adapter_stays_while_a_process_holds_it(tmp_path: Path):
    store = ArtifactStore.at(tmp_path / "data")
    old = _night(store, 1)
    for night in (2, 3):
        _night(store, night)
    with directory_lock(store.evaluations, old, wait=False):  # an evaluation of it still running
        assert old not in apply_retention(store, keep_adapters=0).kept
        assert (store.evaluations / f".{old}.lock").is_file()
    apply_retention(store, keep_adapters=0)
    assert not (store.evaluations / f".{old}.lock").exists()
    assert not (store.checkpoints / f".{old}.lock").exists()


def test_an_adapter_served_through_a_linked_adapters_folder_is_kept(tmp_path: Path):
    """`adapters/` moved to a bigger volume and linked back: a server's lease names the folder it resolves to, and
    the adapter it serves is still the one kept."""
    store = ArtifactStore.at(tmp_path / "data")
    bigger = tmp_path / "big" / "adapters"
    bigger.mkdir(parents=True)
    store.root.mkdir(parents=True)
    store.adapters.symlink_to(bigger, target_is_directory=True)
    served = _night(store, 1)
    for night in range(2, 4):
        _night(store, night)
    store.write_lease(os.getpid(), store.adapters / served)
    try:
        assert served in apply_retention(store, keep_adapters=0).kept
        assert (bigger / served).is_dir()
    finally:
        store.remove_lease(os.getpid())


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    for entry in [*path.rglob("*"), path] if path.is_dir() else [path]:
        os.utime(entry, (then, then))


def test_the_leftovers_of_killed_writes_go_once_a_day_old(tmp_path: Path):
    store = ArtifactStore.at(tmp_path / "data")
    promoted = _night(store, 1)
    old = [store.merged / f".{promoted}.k3j2.tmp", store.adapters / f".{promoted}.old-ab12", store.datasets / ".x.tmp"]
    fresh = store.merged / ".other.q1.tmp"  # a merge writing now
    for path in [*old[:2], fresh]:
        path.mkdir(parents=True)
        (path / "model.safetensors").write_bytes(b"w" * 1000)
    old[2].write_text("partial")
    for path in old:
        _age(path, 2 * 24 * 3600)
    report = apply_retention(store)
    assert not any(path.exists() for path in old) and fresh.is_dir()
    assert {p.relative_to(store.root).as_posix() for p in old} <= set(report.removed)
    assert report.bytes_freed >= 2000 and (store.adapters / promoted).is_dir()


def test_while_a_training_runs_every_dataset_version_stays(tmp_path: Path):
    """The training reads a dataset version no kept adapter records yet; a rebuilt dataset must not remove it."""
    store = ArtifactStore.at(tmp_path / "data")
    _night(store, 1)
    store.dataset.write_text('{"night": 2}\n')
    in_training = sha256_file(store.dataset)
    store.keep_dataset_version(in_training)
    store.dataset.write_text('{"night": 3}\n')  # rebuilt again while it trains
    store.keep_dataset_version(sha256_file(store.dataset))
    with directory_lock(store.checkpoints, "9" * 64):
        apply_retention(store)
        assert (store.datasets / f"{in_training}.jsonl").is_file()
    report = apply_retention(store)
    assert f"datasets/{in_training}.jsonl" in report.removed


@pytest.mark.parametrize("area", ["adapters", "evaluations", "merged", "checkpoints", "datasets"])
@pytest.mark.parametrize("name", [".fp.k3j2.tmp", ".dataset.jsonl.x1.tmp", ".fp.old-ab12"])
@pytest.mark.parametrize("kind", ["folder", "file"])
def test_any_leftover_of_a_killed_write_goes_once_a_day_old_and_never_before(tmp_path: Path, area, name, kind):
    store = ArtifactStore.at(tmp_path / "data")
    _night(store, 1)
    leftover = getattr(store, area) / name
    if ".old-" in name:  # the swap finished: the version set aside is no longer the folder's only copy
        (getattr(store, area) / "fp").mkdir(parents=True, exist_ok=True)
    if kind == "folder":
        (leftover / "sub").mkdir(parents=True)
        (leftover / "sub" / "w.bin").write_bytes(b"w" * 10)
    else:
        leftover.parent.mkdir(parents=True, exist_ok=True)
        leftover.write_bytes(b"w" * 10)
    _age(leftover, 3600)  # an hour: possibly a write still going
    apply_retention(store)
    assert leftover.exists()
    _age(leftover, 2 * 24 * 3600)
    assert leftover.relative_to(store.root).as_posix() in apply_retention(store).removed
    assert not leftover.exists()


def test_the_retention_command_shows_first_then_removes_the_same(tmp_path: Path, capsys):
    from medimind_assets.cli import main

    store = ArtifactStore.at(tmp_path / "data")
    fingerprints = [_night(store, night) for night in range(1, 6)]
    before = _disk(store)
    args = ["retention", "--data-dir", str(store.root), "--keep-adapters", "1"]
    assert main([*args, "--dry-run"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert _disk(store) == before  # nothing removed
    would = sorted(line.removeprefix("  would remove ") for line in shown if line.startswith("  would remove "))
    assert f"adapters/{fingerprints[0]}" in would and not any(fingerprints[-1] in path for path in would)
    assert main(args) == 0
    removed = sorted(line.removeprefix("  removed ") for line in capsys.readouterr().out.splitlines()[1:-1])
    assert removed == would and _disk(store) < before
    assert main(args) == 0 and "nothing to remove" in capsys.readouterr().out


def test_a_dry_run_counts_what_the_real_run_removes_checkpoints_included(tmp_path: Path, capsys):
    """A checkpoint folder goes with its adapter: the dry run, which removes no adapter, must count it too."""
    store = ArtifactStore.at(tmp_path / "data")
    fingerprints = [_night(store, night) for night in range(1, 4)]
    for fingerprint in fingerprints:
        (store.checkpoints / fingerprint).mkdir(parents=True)
        (store.checkpoints / fingerprint / "state.bin").write_bytes(os.urandom(1000))
        _age(store.checkpoints / fingerprint, 2 * 24 * 3600)
    would = apply_retention(store, keep_adapters=0, dry_run=True)
    did = apply_retention(store, keep_adapters=0)
    assert sorted(would.removed) == sorted(did.removed) and would.bytes_freed == did.bytes_freed
    assert f"checkpoints/{fingerprints[0]}" in did.removed


def test_an_operators_links_are_neither_followed_nor_removed(tmp_path: Path):
    store = ArtifactStore.at(tmp_path / "data")
    for night in range(1, 4):
        _night(store, night)
    elsewhere = tmp_path / "backup"
    (elsewhere / "keep-me").mkdir(parents=True)
    for area in (store.adapters, store.evaluations, store.merged):
        (area / "backup_link").symlink_to(elsewhere, target_is_directory=True)
    report = apply_retention(store, keep_adapters=0)
    folders = [path for path in report.removed if not path.endswith(".lock")]
    assert sum(path.startswith(("adapters/", "evaluations/", "merged/")) for path in folders) == 6  # nights 1, 2
    assert not [path for path in report.removed if "backup_link" in path]
    assert all((area / "backup_link").is_symlink() for area in (store.adapters, store.evaluations, store.merged))
    assert (elsewhere / "keep-me").is_dir()


def test_a_dry_run_on_a_read_only_data_folder_lists_without_a_lock(tmp_path: Path, monkeypatch):
    store = ArtifactStore.at(tmp_path / "data")
    for night in range(1, 4):
        _night(store, night)
    lock = store.checkpoints / f".{'01' + 'f' * 62}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.touch()

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("medimind_assets.atomic.directory_lock", read_only)
    before = sorted(store.root.rglob("*"))
    report = apply_retention(store, keep_adapters=0, dry_run=True)
    assert report.removed == apply_retention(store, keep_adapters=0, dry_run=True).removed
    assert {path.split("/")[0] for path in report.removed} >= {"adapters", "evaluations", "merged"}
    assert sorted(store.root.rglob("*")) == before  # looked at the locks (read-only), created none


def test_a_linked_dataset_version_is_not_removed(tmp_path: Path):
    store = ArtifactStore.at(tmp_path / "data")
    for night in range(1, 4):
        _night(store, night)
    target = tmp_path / "elsewhere.jsonl"
    target.write_text("{}\n")
    link = store.datasets / f"{'0' * 64}.jsonl"
    link.symlink_to(target)
    report = apply_retention(store, keep_adapters=0)
    assert link.is_symlink() and target.is_file()
    assert not [path for path in report.removed if path.endswith(link.name)]


def test_files_and_folders_the_pipeline_never_writes_are_never_removed(tmp_path):
    """A hand-curated dataset, a backup copy of an adapter, an export and an audit folder were all listed for
    removal; the backup also counted as one of the most recent adapters kept."""
    store = ArtifactStore.at(tmp_path / "data")
    for night in range(1, 4):
        _night(store, night)
    mine = [
        store.datasets / "hand-curated-2026.jsonl",
        store.adapters / f"01{'f' * 62}.bak",
        store.merged / "export-for-vllm",
        store.evaluations / "manual-audit-2026",
    ]
    for path in mine:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir() if path.suffix != ".jsonl" else path.write_text("{}\n")
    report = apply_retention(store, keep_adapters=1)
    assert all(path.exists() for path in mine)
    assert not any(
        removed.endswith((".bak", "export-for-vllm", "manual-audit-2026", "hand-curated-2026.jsonl"))
        for removed in report.removed
    )
    assert f"02{'f' * 62}" in report.kept


@pytest.mark.parametrize("seed", range(10))
def test_no_name_but_a_fingerprint_or_content_hash_is_ever_removed(tmp_path, seed):
    import random
    import string

    rng = random.Random(seed)
    store = ArtifactStore.at(tmp_path / "data")
    for night in range(1, 4):
        _night(store, night)
    names = ["".join(rng.choice(string.ascii_letters + string.digits + "-_.") for _ in range(rng.randint(1, 70)))]
    names.append("f" * 63)  # one digit short of a fingerprint
    names.append(f"{'a' * 64}.bak")
    made = []
    for name in names:
        for area in (store.adapters, store.evaluations, store.merged):
            (area / name).mkdir(parents=True, exist_ok=True)
            made.append(area / name)
        (store.datasets / f"{name}.jsonl").write_text("{}\n")
        made.append(store.datasets / f"{name}.jsonl")
    apply_retention(store, keep_adapters=0)
    assert all(path.exists() for path in made)

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medimind_assets.atomic import atomic_directory, atomic_write_json
from medimind_assets.models import resolve_base_model
from medimind_assets.models import tiny_phi as tiny_phi_module
from medimind_assets_tests.models.conftest import TEXTS


def build(target: Path, fill) -> None:
    with atomic_directory(target) as tmp:
        fill(tmp)


def _hidden_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock"))


def test_failed_build_leaves_no_model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash_midway(out_dir: Path, texts: Any, **kwargs: Any) -> Path:
        (Path(out_dir) / "config.json").write_text("{}")
        (Path(out_dir) / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(tiny_phi_module, "build_tiny_phi", crash_midway)
    with pytest.raises(RuntimeError, match="disk full"):
        resolve_base_model("tiny-phi", tmp_path, TEXTS)
    assert not (tmp_path / "tiny-phi").exists()
    assert _hidden_entries(tmp_path) == []


def test_leftovers_of_a_killed_build_are_cleaned(tmp_path: Path) -> None:
    stale = tmp_path / ".tiny-phi.k1ll3d.tmp"  # a build killed a minute ago: the lock says it is stale
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"partial")
    manifest = resolve_base_model("tiny-phi", tmp_path, TEXTS)
    assert Path(manifest["path"]) == tmp_path / "tiny-phi"
    assert _hidden_entries(tmp_path) == []


def test_unfinished_model_dir_without_manifest_is_rebuilt(tmp_path: Path) -> None:
    half = tmp_path / "tiny-phi"
    half.mkdir()
    (half / "config.json").write_text("{}")
    manifest = resolve_base_model("tiny-phi", tmp_path, TEXTS)
    assert manifest["model_type"] == "phi"
    assert (half / "model.safetensors").is_file()


def test_failed_rebuild_keeps_the_previous_directory(tmp_path: Path) -> None:
    target = tmp_path / "model"
    build(target, lambda tmp: (tmp / "weights").write_text("v1"))

    def failing(tmp: Path) -> None:
        (tmp / "weights").write_text("v2-partial")
        raise OSError("killed")

    with pytest.raises(OSError, match="killed"):
        build(target, failing)
    assert (target / "weights").read_text() == "v1"
    build(target, lambda tmp: (tmp / "weights").write_text("v2"))
    assert (target / "weights").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_failed_json_write_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "base_model.json"
    atomic_write_json(path, {"name": "first"})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"name": {1, 2}, 3: object()})
    assert json.loads(path.read_text()) == {"name": "first"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base_model.json"]


def test_artefacts_are_readable_by_others_as_the_umask_allows(tmp_path):
    """Libraries write through temporary files created 0600 (safetensors' weights among them): a published folder
    and file get the modes a plain write would have, so a server running as another user can read the weights."""
    import os
    import stat
    import tempfile

    from medimind_assets.atomic import atomic_directory, atomic_write_text

    previous = os.umask(0o022)
    try:
        with atomic_directory(tmp_path / "adapter") as tmp:
            fd, name = tempfile.mkstemp(dir=tmp)  # 0600, as a library's temporary file
            os.close(fd)
            os.replace(name, tmp / "adapter_model.safetensors")
            (tmp / "nested").mkdir(mode=0o700)
        atomic_write_text(tmp_path / "current.json", "{}")
    finally:
        os.umask(previous)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "adapter" / "adapter_model.safetensors") == 0o644
    assert mode(tmp_path / "adapter") == 0o755 and mode(tmp_path / "adapter" / "nested") == 0o755
    assert mode(tmp_path / "current.json") == 0o644


WRITER = """
import sys
from pathlib import Path
from medimind_assets.atomic import atomic_directory
errors = []
for i in range(150):
    try:
        with atomic_directory(Path(sys.argv[1])) as tmp:
            (tmp / "weights.bin").write_text(f"{sys.argv[2]}{i}")
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
print(errors)
"""


def test_two_writers_of_one_folder_replace_it_in_turn(tmp_path: Path) -> None:
    """Two runs publishing the same fingerprint (a retry beside an automated run): both succeed, one wins whole.
    Separate interpreters, as two runs are (a fork of the test process could inherit a held lock)."""
    import subprocess
    import sys

    final = tmp_path / "merged" / "fp"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(final), tag], stdout=subprocess.PIPE, text=True)
        for tag in ("a", "b")
    ]
    outputs = [writer.communicate(timeout=120)[0].strip() for writer in writers]
    assert outputs == ["[]", "[]"]
    assert (final / "weights.bin").read_text() in {"a149", "b149"}
    assert sorted(p.name for p in final.parent.iterdir()) == ["fp"]


@pytest.mark.parametrize(
    "message",
    [
        "Error while serializing: No space left on device (os error 28)",
        'IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })',
    ],
)
def test_a_full_disk_inside_a_native_writer_names_the_artefact(tmp_path: Path, message: str) -> None:
    """safetensors writes in Rust: its disk-full error is no OSError, and still names the folder being written."""
    from medimind_assets.atomic import ArtifactWriteError, atomic_directory

    final = tmp_path / "merged" / "abc"
    with (
        pytest.raises(ArtifactWriteError, match=f"no space left on device while writing {final}"),
        atomic_directory(final),
    ):
        raise RuntimeError(message)
    assert not final.exists()
    with pytest.raises(RuntimeError, match="a bug of its own"), atomic_directory(final):
        raise RuntimeError("a bug of its own (os error 999)")


def test_a_lock_that_cannot_be_created_is_named_with_why(tmp_path, monkeypatch):
    """A read-only data folder: one line naming the lock file, and an OSError still (retention's dry run reads it
    as a lock it cannot judge)."""
    import errno

    from medimind_assets.atomic import LockUnavailable, directory_lock

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(type(tmp_path), "open", read_only)
    expected = r"cannot take the lock .*\.x\.lock: read-only file system while writing .*\.x\.lock"
    with pytest.raises(LockUnavailable, match=expected), directory_lock(tmp_path, "x"):
        pass
    assert issubclass(LockUnavailable, OSError)


def test_a_lock_looked_at_for_an_instant_does_not_refuse_the_one_that_takes_it(tmp_path):
    """`medimind status` (lock_held) holds an evaluation's lock for an instant to look: an evaluation or a training
    starting at that moment waits the instant out instead of refusing to run; a real holder still refuses it."""
    import threading
    import time

    from medimind_assets.atomic import LOCK_PATIENCE_S, LockHeld, directory_lock

    def hold(seconds: float) -> threading.Thread:
        started = threading.Event()

        def run() -> None:
            with directory_lock(tmp_path, "abc"):
                started.set()
                time.sleep(seconds)

        thread = threading.Thread(target=run)
        thread.start()
        started.wait(5)
        return thread

    looking = hold(0.2)
    with directory_lock(tmp_path, "abc", wait=False):
        pass
    looking.join()
    running = hold(LOCK_PATIENCE_S + 1)
    with (
        pytest.raises(LockHeld, match=r"\.abc\.lock is held by another process"),
        directory_lock(tmp_path, "abc", False),
    ):
        pass
    running.join()


def test_a_folder_a_killed_swap_left_aside_is_put_back_not_removed(tmp_path):
    """Killed between a swap's two renames: the folder is gone and its last version sits aside as `.<name>.old-*`.
    The next write, or retention, puts it back instead of deleting the only copy."""
    import os
    import time

    from medimind_assets.atomic import remove_stale_temporaries
    from medimind_assets.retention import apply_retention
    from medimind_assets.store import ArtifactStore

    store = ArtifactStore.at(tmp_path / "data")
    final = store.adapters / ("a" * 64)
    final.mkdir(parents=True)
    (final / "adapter_model.safetensors").write_bytes(b"weights")
    aside = final.parent / f".{final.name}.old-x1y2"
    os.replace(final, aside)  # what the kill leaves
    day_ago = time.time() - 3 * 24 * 3600
    os.utime(aside, (day_ago, day_ago))
    assert apply_retention(store, dry_run=True).removed == []  # it would be put back, so never listed as removed
    assert not final.exists()
    apply_retention(store)
    assert (final / "adapter_model.safetensors").read_bytes() == b"weights" and not aside.exists()
    os.replace(final, aside)
    remove_stale_temporaries(final, max_age_s=0)  # what the next write of the folder does first
    assert (final / "adapter_model.safetensors").read_bytes() == b"weights" and not aside.exists()

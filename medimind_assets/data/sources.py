"""The raw sources: where they live under MEDIMIND_RAW_DIR, their pinned upstream files, download and hashing.

A source present under the raw directory is used as it is (the real files, or our own sample in the same
layout). A source that is absent is downloaded from its pinned upstream commit, every file checked against the
sha256 recorded in `upstream_manifest.json`, and moved into place only when all of them match.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from medimind_assets.data import mediqa, medquad
from medimind_assets.data.errors import DownloadError, RawDataError, raise_collected
from medimind_assets.data.xml_reader import data_files
from medimind_assets.digests import sha256_file, sha256_text

MEDIQA = "mediqa2019_qa"
MEDQUAD = "medquad"
# Files a source cannot be used without (relative to its folder).
REQUIRED = {
    MEDIQA: [f"{mediqa.TASK_DIR}/{name}" for name in (*mediqa.TRAINING_FILES.values(), mediqa.TEST_LABELLED_FILE)],
    MEDQUAD: [],
}


# A raw folder holding this file is the project's own sample (`data/sample/`), not the upstream datasets.
SAMPLE_MARKER = "MEDIMIND_SAMPLE"


def own_sample(raw_dir: Path) -> str | None:
    """The first line of the sample marker when `raw_dir` is the project's own sample, else None."""
    marker = Path(raw_dir) / SAMPLE_MARKER
    if not marker.is_file():
        return None
    return marker.read_text(encoding="utf-8").strip().split("\n\n")[0].replace("\n", " ")


@cache
def upstream_manifest() -> dict:
    return json.loads(resources.files("medimind_assets.data").joinpath("upstream_manifest.json").read_text())


@dataclass
class SourceFile:
    path: str  # relative to the source folder
    sha256: str
    size: int
    matches_upstream: bool
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class SourceSnapshot:
    name: str
    root: Path
    files: list[SourceFile]
    downloaded: bool = False

    @property
    def data_version(self) -> str:
        """Content hash: the same bytes under the same names are never a change."""
        return sha256_text("".join(f"{f.path}\t{f.sha256}\n" for f in self.files))

    @property
    def totals(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for f in self.files:
            totals.update(f.counts)
        return dict(totals)


def newest_change(raw_dir: Path, name: str) -> float:
    """The latest modification time of the source's files (0 when it has none): the sensor waits until it is
    older than the settle time, so a collection being copied in is not observed half-copied."""
    folder = raw_dir / name
    if not folder.is_dir():
        return 0.0
    times = [p.stat().st_mtime for p in data_files(folder)]
    return max([folder.stat().st_mtime, *times])


def is_present(raw_dir: Path, name: str) -> bool:
    folder = raw_dir / name
    return folder.is_dir() and any(p.suffix.lower() == ".xml" for p in data_files(folder))


def snapshot(raw_dir: Path, name: str, counts: bool = True) -> SourceSnapshot:
    """Hash and count every data file of a source that is present under `raw_dir`.

    With `counts=False` the files are only hashed, not parsed: the same data version, cheaply, and no error for a
    file that hashes but does not parse.
    """
    folder = raw_dir / name
    if not is_present(raw_dir, name):
        raise RawDataError(folder, f"no {name} XML files here (set MEDIMIND_RAW_DIR to the folder holding {name}/)")
    if missing := [rel for rel in REQUIRED[name] if not (folder / rel).is_file()]:
        raise RawDataError(folder, f"required file(s) missing: {', '.join(missing)}")
    pinned = upstream_manifest()[name]["files"]
    files, errors = [], []
    for path in data_files(folder):
        rel = path.relative_to(folder).as_posix()
        try:
            digest = sha256_file(path)
            file_counts = _counts(name, folder, path) if counts else {}
        except OSError as exc:
            errors.append(RawDataError(path, f"cannot be read: {exc.strerror}"))
        except RawDataError as exc:  # keep going: the error names every unreadable file, not only the first
            errors.append(exc)
        else:
            files.append(SourceFile(rel, digest, path.stat().st_size, pinned.get(rel) == digest, file_counts))
    raise_collected(errors)
    return SourceSnapshot(name=name, root=folder, files=files)


def _counts(name: str, folder: Path, path: Path) -> dict[str, int]:
    if path.suffix.lower() != ".xml":
        return {}
    if name == MEDQUAD:
        medquad.check_placed(folder, path)
        pairs = medquad.parse_medquad_file(path)
        return {"qa_pairs": len(pairs), "with_answer": sum(1 for p in pairs if p.answer.strip())}
    questions = mediqa.parse_mediqa_file(path)
    answers = [a for q in questions for a in q.answers]
    return {"questions": len(questions), "answers": len(answers), "correct_answers": sum(a.is_correct for a in answers)}


def download(raw_dir: Path, name: str, url: str | None = None, timeout: float = 30.0) -> SourceSnapshot:
    """Fetch every pinned file of `name` into `raw_dir/name`, verify each sha256, then move the folder into place.
    `url`: the settings' `source_urls` (MEDIMIND_MEDIQA_URL / MEDIMIND_MEDQUAD_URL), else the upstream commit."""
    entry = upstream_manifest()[name]
    url = (url or entry["base_url"]).rstrip("/")
    final = raw_dir / name
    raw_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".download", dir=raw_dir))
    os.chmod(staging, 0o755)  # readable by the daemon or a server running as another user, as any unpacked source
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            files = sorted(entry["files"].items())
            list(pool.map(lambda f: _fetch(f"{url}/{f[0]}", staging / f[0], f[1], final / f[0], timeout), files))
        if final.is_dir() and any(final.iterdir()):
            # Files of the operator's there (notes, an archive being unpacked): the source's files join them, one
            # by one; nothing else in the folder is touched.
            for path in sorted(p for p in staging.rglob("*") if p.is_file()):
                target = final / path.relative_to(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
        else:
            if final.is_dir():
                final.rmdir()
            os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result = snapshot(raw_dir, name)
    result.downloaded = True
    return result


def _fetch(url: str, dest: Path, expected: str, final: Path, timeout: float) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    hint = f"expected at {final}; put the files there or set MEDIMIND_RAW_DIR to a folder that holds them"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as handle:
            shutil.copyfileobj(response, handle)
    except urllib.error.HTTPError as exc:
        transient = exc.code >= 500 or exc.code == 429
        raise DownloadError(
            final, f"download from {url} failed (HTTP {exc.code} {exc.reason}); {hint}", retryable=transient
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        if _unreachable(reason):
            # Offline or a wrong address: waiting within the run does not help (the source sensor tries again).
            raise DownloadError(
                final, f"download from {url} failed: the host cannot be reached ({reason}), offline?; {hint}"
            ) from None
        raise DownloadError(final, f"download from {url} failed ({reason}); {hint}", retryable=True) from None
    actual = sha256_file(dest)
    if actual != expected:
        raise DownloadError(final, f"downloaded from {url} but sha256 is {actual}, expected {expected}; {hint}")


def _unreachable(reason: object) -> bool:
    """Name resolution failed, the connection was refused, or there is no route to the host."""
    if isinstance(reason, (socket.gaierror, ConnectionRefusedError)):
        return True
    return getattr(reason, "errno", None) in (errno.ENETUNREACH, errno.EHOSTUNREACH)


def ensure(raw_dir: Path, name: str, url: str | None = None) -> SourceSnapshot:
    """The source as present under `raw_dir`, downloading the pinned upstream files first when it is absent."""
    if is_present(raw_dir, name):
        return snapshot(raw_dir, name)
    return download(raw_dir, name, url)

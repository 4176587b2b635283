"""The one exception raised for bad raw input: it always names the file (and line when known)."""

from __future__ import annotations

from pathlib import Path


class RawDataError(ValueError):
    """Raw input that cannot be used as it is: malformed, wrongly encoded, missing or unexpected."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


class DownloadError(RawDataError):
    """A pinned upstream file could not be fetched or did not match its sha256 (worth retrying later)."""

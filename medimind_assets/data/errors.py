"""The one exception raised for bad raw input: it always names the file (and line when known)."""

from __future__ import annotations

from pathlib import Path

from medimind_assets.errors import MediMindError


class RawDataError(MediMindError, ValueError):
    """Raw input that cannot be used as it is: malformed, wrongly encoded, missing or unexpected."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


class DownloadError(RawDataError):
    """A pinned upstream file could not be fetched or did not match its sha256.

    `retryable` is True only for failures that may pass within the run (a timeout, a reset connection, a server
    error); an unreachable host, a missing file or wrong bytes are reported at once.
    """

    def __init__(self, path: str | Path, problem: str, retryable: bool = False) -> None:
        super().__init__(path, problem)
        self.retryable = retryable


class RawDataErrors(RawDataError):
    """Several raw files that cannot be used; the message lists every one of them."""

    def __init__(self, errors: list[RawDataError]) -> None:
        shown = "\n".join(f"  {error}" for error in errors)
        ValueError.__init__(self, f"{len(errors)} raw file(s) cannot be read:\n{shown}")
        self.errors = errors
        self.path = errors[0].path
        self.line = errors[0].line


def raise_collected(errors: list[RawDataError]) -> None:
    """Raise the one error as it is, or all of them together (those of a `RawDataErrors` among them too)."""
    errors = [e for error in errors for e in (error.errors if isinstance(error, RawDataErrors) else [error])]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise RawDataErrors(errors)

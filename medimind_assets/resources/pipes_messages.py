"""Reading the Pipes messages a local job writes, one whole line at a time.

Dagster's `PipesFileMessageReader` tails the messages file with `readline()`, which returns a line the job is still
writing (a large message, such as the training report with its loss-curve image, is written in several chunks):
`json.loads` then fails on half a message and the step ends with "No materialization results received". Here a
line is handed over only once its newline has arrived.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from threading import Event
from typing import TYPE_CHECKING

from dagster import PipesFileMessageReader, PipesMessageReader

if TYPE_CHECKING:
    from dagster._core.pipes.context import PipesMessageHandler
    from dagster_pipes import PipesParams

POLL_S = 0.01


def whole_lines(path: str, should_stop: Callable[[], bool], poll_s: float = POLL_S) -> Iterator[str]:
    """The lines of a file another process is appending to, each once it is complete; a last line without its
    newline when the writer is done."""
    pending = ""
    with open(path, encoding="utf-8") as stream:
        while True:
            chunk = stream.readline()
            if chunk:
                pending += chunk
                if pending.endswith("\n"):
                    yield pending
                    pending = ""
            elif should_stop():
                if pending.strip():
                    yield pending
                return
            else:
                time.sleep(poll_s)


class _WholeLineFileReader(PipesFileMessageReader):
    def _reader_thread(self, handler: PipesMessageHandler, is_resource_complete: Event) -> None:
        try:
            for line in whole_lines(self._path, is_resource_complete.is_set):
                handler.handle_message(json.loads(line))
        except:  # noqa: E722 (as Dagster's own reader: reported, then raised in the thread)
            handler.report_pipes_framework_exception(f"{self.__class__.__name__} reader thread", sys.exc_info())
            raise


class WholeLineTempFileReader(PipesMessageReader):
    """`PipesTempFileMessageReader`, reading whole lines only."""

    @contextmanager
    def read_messages(self, handler: PipesMessageHandler) -> Iterator[PipesParams]:
        with (
            tempfile.TemporaryDirectory() as folder,
            _WholeLineFileReader(os.path.join(folder, "messages")).read_messages(handler) as params,
        ):
            yield params

    def no_messages_debug_text(self) -> str:
        return "Attempted to read messages from a local temporary file."

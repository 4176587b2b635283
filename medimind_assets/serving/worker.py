"""One generation at a time: requests wait in a bounded queue for a single worker thread, which answers the oldest
with the others already waiting for the same `max_new_tokens` in one batch, on the model served when it started: a
request is never interleaved into another's generation, and a promotion takes effect at the next batch
(docs/serving.md). A full queue refuses a request (`QueueFull`); a request whose client left (`abandon`) is dropped
while it waits, and its row of a batch being generated stops.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

from medimind_assets.data.safety import assess, with_safety_notice
from medimind_assets.evaluation.generation import DEFAULT_REPETITION_PENALTY, generate_answers
from medimind_assets.llm.template import plain_text
from medimind_assets.serving.chat import Turn, build_prompt, normalise, prompt_budget
from medimind_assets.serving.holder import ModelHolder, logger

EMPTY_ANSWER = "(empty answer)"  # what `medimind ask` shows for an answer with no text
DEFAULT_MAX_WAITING = 32  # 4 batches of 8: a minute's wait for 128-token answers on a CPU (docs/serving.md)


class QueueClosed(RuntimeError):
    """The server is shutting down: no new request is taken."""


class QueueFull(RuntimeError):
    """`max_waiting` requests are already waiting; `retry_after` estimates the seconds until there is room."""

    def __init__(self, waiting: int, retry_after: int):
        super().__init__(f"the server is busy: its queue is full ({waiting} waiting); retry in {retry_after}s")
        self.retry_after = retry_after


@dataclass(eq=False)  # a job is itself: found in the queue by identity
class ChatJob:
    message: str
    history: list[Turn]
    max_new_tokens: int
    received: float = field(default_factory=time.monotonic)
    future: Future = field(default_factory=Future)
    abandoned: threading.Event = field(default_factory=threading.Event)  # its client left


def reply(job: ChatJob, loaded, prompt, generated) -> dict[str, Any]:
    """The response body of one answered request (docs/serving.md lists its fields)."""
    served = loaded.served
    level = assess(normalise(job.message)).level
    return {
        "answer": with_safety_notice(level, generated.text or EMPTY_ANSWER),
        "safety_level": level,
        "truncated_prompt": prompt.truncated,
        "history_turns_used": prompt.history_turns_used,
        "cut_at_max_tokens": not generated.ended,
        "adapter": served.adapter(),
        "dataset_version": served.dataset_version,
        "base_model": served.base_model,
        "usage": {"prompt_tokens": prompt.n_tokens, "completion_tokens": generated.n_tokens},
        "latency_s": round(time.monotonic() - job.received, 3),
    }


class GenerationQueue:
    """The waiting requests and the worker thread that answers them (module docstring)."""

    def __init__(
        self,
        holder: ModelHolder,
        *,
        max_prompt_tokens: int | None = 256,
        max_batch_size: int = 8,
        max_waiting: int = DEFAULT_MAX_WAITING,
        repetition_penalty: float = DEFAULT_REPETITION_PENALTY,
        generate: Callable | None = None,
    ):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if max_waiting < 1:
            raise ValueError(f"max_waiting must be >= 1, got {max_waiting}")
        self.holder = holder
        self.max_prompt_tokens = max_prompt_tokens
        self.max_batch_size = max_batch_size
        self.max_waiting = max_waiting
        self.repetition_penalty = repetition_penalty
        self._generate = generate or generate_answers
        self._pending: deque[ChatJob] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="medimind-generation", daemon=True)
        self.generating = 0  # requests in the batch being generated now
        self.dropped = 0  # requests whose client left while they waited: never generated
        self.stopped = 0  # requests whose client left during their generation: their row stopped
        self.refused = 0  # requests refused because the queue was full
        self._last_batch_s = 1.0  # how long the last batch took
        self._batch_started: float | None = None  # when the batch being generated began

    @property
    def accepting(self) -> bool:
        """Whether a request submitted now would be generated: not shutting down, the worker thread alive."""
        with self._cond:
            return not self._closed and self._thread.is_alive()

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._pending)

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: ChatJob) -> Future:
        """Queue `job`; QueueClosed when shutting down, QueueFull when `max_waiting` requests wait already."""
        with self._cond:
            if self._closed:
                raise QueueClosed("the server is shutting down")
            if self._thread.ident is not None and not self._thread.is_alive():
                raise QueueClosed("the generation worker has stopped: restart the server")
            if len(self._pending) >= self.max_waiting:
                self.refused += 1
                # Room opens when the batch being generated ends and the next one leaves the queue.
                raise QueueFull(len(self._pending), self._retry_after())
            self._pending.append(job)
            self._cond.notify()
        return job.future

    def _retry_after(self) -> int:
        """Seconds until the queue has room, estimated: the batches ahead (the one generating and those waiting),
        each as long as the last one took or as the one generating has taken so far, whichever is longer."""
        started = self._batch_started
        per_batch = max(self._last_batch_s, time.monotonic() - started if started is not None else 0.0)
        ahead = math.ceil(len(self._pending) / self.max_batch_size) + (started is not None)
        return max(1, math.ceil(ahead * per_batch))

    def abandon(self, job: ChatJob) -> None:
        """`job`'s client left: drop it if it still waits, else stop its row of the generation."""
        with self._cond:
            job.abandoned.set()
            if job in self._pending:
                self._pending.remove(job)
                job.future.cancel()
                self.dropped += 1
            elif not job.future.done():
                self.stopped += 1

    def close(self, timeout: float = 30.0) -> None:
        """Answer what is queued, then stop the worker."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _next_batch(self) -> list[ChatJob] | None:
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            if not self._pending:
                return None
            bound = self._pending[0].max_new_tokens
            batch = [job for job in self._pending if job.max_new_tokens == bound][: self.max_batch_size]
            for job in batch:
                self._pending.remove(job)
            return batch

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            batch = [job for job in batch if job.future.set_running_or_notify_cancel()]
            if not batch:
                continue
            self.generating = len(batch)
            started = self._batch_started = time.monotonic()
            try:
                results = self.answer(batch)
            except Exception as exc:  # the requests fail, the worker goes on with the next batch
                logger.exception("generation failed for %d request(s)", len(batch))
                for job in batch:
                    job.future.set_exception(exc)
            else:
                for job, result in zip(batch, results, strict=True):
                    job.future.set_result(result)
            finally:
                self.generating = 0
                self._last_batch_s = time.monotonic() - started
                self._batch_started = None

    def answer(self, batch: list[ChatJob]) -> list[dict[str, Any]]:
        """Answers to requests sharing one `max_new_tokens`, from the model being served now."""
        loaded = self.holder.current
        bound = batch[0].max_new_tokens
        budget = prompt_budget(loaded.context_tokens, bound, self.max_prompt_tokens)
        template = loaded.served.target.template
        prompts = [
            build_prompt(
                loaded.count_tokens,
                template,
                [replace(turn, content=plain_text(turn.content, loaded.tokenizer)) for turn in job.history],
                plain_text(job.message, loaded.tokenizer),
                budget,
                end_of_answer=loaded.tokenizer.eos_token or "",
            )
            for job in batch
        ]
        generated = self._generate(
            loaded.model,
            loaded.tokenizer,
            [p.text for p in prompts],
            max_new_tokens=bound,
            batch_size=len(batch),
            max_prompt_tokens=budget,
            repetition_penalty=self.repetition_penalty,
            log=lambda _: None,
            unwanted=[job.abandoned.is_set for job in batch],
            stop_at=template.turn_markers,
        )
        return [reply(job, loaded, p, g) for job, p, g in zip(batch, prompts, generated, strict=True)]

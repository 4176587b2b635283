"""`medimind serve`: the MediMind backend's HTTP API (FastAPI on uvicorn) for the model `ModelHolder` serves.

`POST /api/v1/chat` answers a question with the safety notice of its question (`ChatResponse`); `GET /api/v1/health`
(and `/healthz`, HEAD too) says what is served, and is a 503 once the generation worker has stopped. The request,
the response, the errors (415, 400, 413, 422, 503 with Retry-After, each naming the problem in `error`) and the
health fields: docs/serving.md. Generation runs on one worker thread (`GenerationQueue`), so the event loop stays
free: the health endpoint answers while a request is generating.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from medimind_assets.evaluation.generation import DEFAULT_REPETITION_PENALTY, MAX_NEW_TOKENS
from medimind_assets.llm.template import plain_text
from medimind_assets.serving.chat import (
    MAX_HISTORY_TURNS,
    MAX_MESSAGE_CHARS,
    Turn,
    exchanges,
    is_blank,
    no_fit,
    normalise,
    prompt_budget,
)
from medimind_assets.serving.holder import SOURCE_BASE, ModelHolder, PromotionWatcher, logger
from medimind_assets.serving.worker import DEFAULT_MAX_WAITING, ChatJob, GenerationQueue, QueueClosed, QueueFull

CHAT_PATH = "/api/v1/chat"
HEALTH_PATHS = ("/api/v1/health", "/healthz")
DISCONNECT_POLL_S = 0.25  # how often a waiting request checks that its client is still there
CLIENT_CLOSED = 499  # the status logged for a request whose client left (nginx's "client closed request")
BODY_UNREADABLE = (
    "the request body cannot be read as JSON: not UTF-8, a number of over 4,300 digits, or nested too deep"
)
GRACEFUL_SHUTDOWN_S = 30  # SIGTERM: the requests in flight get this long to finish
# The largest valid request, a message and MAX_HISTORY_TURNS turns at their limits with every character escaped
# (12 bytes for one outside the BMP, a surrogate pair "\ud83d\ude00"), is about 19.3 MB: a body past this is refused
# before it is read (413).
MAX_BODY_BYTES = 24 * 2**20
DETAIL_KEYS = ("type", "loc", "msg")  # what `detail` keeps of an error: not the input, which may be huge or NaN


class ChatTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field ("max_tokens") is an error, not a silent default

    role: Literal["user", "assistant"]
    content: StrictStr = Field(max_length=MAX_MESSAGE_CHARS)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: StrictStr = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, examples=["What is a headache?"])
    history: list[ChatTurn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS)
    max_new_tokens: StrictInt | None = Field(default=None, ge=1, le=MAX_NEW_TOKENS)

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if is_blank(value):
            raise ValueError("the message is blank")
        return value


class AdapterInfo(BaseModel):
    fingerprint: str
    path: str


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int


class ChatResponse(BaseModel):
    answer: str = Field(description="the model's answer with its safety notice (emergency first, caution last)")
    safety_level: Literal["safe", "caution", "emergency"]
    truncated_prompt: bool = Field(description="older turns were left out or the prompt's start was cut")
    history_turns_used: int
    cut_at_max_tokens: bool = Field(description="the answer reached max_new_tokens without ending")
    adapter: AdapterInfo | None
    dataset_version: str | None
    base_model: str
    usage: Usage
    latency_s: float


def _field(location: tuple | list) -> str:
    parts = [str(p) for p in location if p != "body"]
    return ".".join(parts) or "body"


class _AsciiJSONResponse(JSONResponse):
    """Strict JSON with non-ASCII escaped: a message may name a lone surrogate, which UTF-8 cannot encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _error(status: int, message: str, detail: Any = None, headers: dict | None = None) -> JSONResponse:
    body = {"error": message}
    if detail is not None:
        body["detail"] = jsonable_encoder(detail)
    return _AsciiJSONResponse(status_code=status, content=body, headers=headers)


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Starlette's own errors (a body that is not UTF-8, an unknown path) in the same shape as ours."""
    # FastAPI says only "There was an error parsing the body": what it cannot parse is one of these.
    message = BODY_UNREADABLE if exc.status_code == 400 else str(exc.detail)
    return _error(exc.status_code, message, headers=exc.headers)


async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    detail = [{key: error[key] for key in DETAIL_KEYS if key in error} for error in errors]
    for error in errors:
        if error.get("type") == "json_invalid":
            where = f" at character {error['loc'][-1]}" if len(error.get("loc", ())) > 1 else ""
            reason = (error.get("ctx") or {}).get("error") or error.get("msg")
            return _error(400, f"the request body is not valid JSON{where}: {reason}", detail)
    message = "; ".join(f"{_field(e.get('loc', ()))}: {e.get('msg')}" for e in errors)
    return _error(422, message, detail)


def _require_json(request: Request) -> None:
    """415 for a body sent as anything but JSON (a form, text, no Content-Type), before the body is validated."""
    content_type = request.headers.get("content-type")
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        sent = f"is {content_type!r}" if content_type else "is missing"
        raise StarletteHTTPException(
            415, f"the Content-Type header {sent}: send the body as JSON with Content-Type: application/json"
        )


class BodyLimit:
    """ASGI middleware: a body past `limit` bytes is a 413, refused on its Content-Length before it is read, or
    once the chunks read pass the limit (a body sent without a length)."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await _error(413, self._message(f"{int(declared):,}"))(scope, receive, send)
        seen, started = 0, False

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b"")) if message["type"] == "http.request" else 0
            if seen > self.limit:
                raise StarletteHTTPException(413, self._message(f"over {self.limit:,}"))
            return message

        async def sending(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, sending)
        except asyncio.CancelledError:
            # The graceful shutdown ran out while the body was still arriving (a stalled client): a JSON 503, as
            # for a request whose answer was not finished, not the server's plain-text 500 and a traceback.
            if started:
                raise
            await _error(503, "the server is shutting down: the request was not read in time; retry")(
                scope, receive, send
            )

    def _message(self, size: str) -> str:
        return f"the request body is {size} bytes; at most {self.limit:,} are accepted"


async def _answer(request: Request, queue: GenerationQueue, job: ChatJob) -> Any:
    """The job's answer; once its client has left, the job is abandoned and a 499 returned (no one reads it). A
    request still unanswered when the graceful shutdown runs out (its task cancelled) is abandoned too, so its row
    stops generating, and answered with a 503 in JSON rather than a bare 500."""
    answer = asyncio.wrap_future(job.future)
    while True:
        try:
            await asyncio.wait({answer}, timeout=DISCONNECT_POLL_S)
        except asyncio.CancelledError:
            queue.abandon(job)
            answer.cancel()
            return _error(503, "the server is shutting down: the answer was not finished in time; retry")
        if answer.done():
            return answer.result()
        if await request.is_disconnected():
            queue.abandon(job)
            answer.cancel()  # a result set later is dropped, not logged as never retrieved
            # No access-log line is written for a connection that is gone: this is the request's only trace.
            client = f"{request.client.host}:{request.client.port}" if request.client else "-"
            logger.info(
                '%s - "%s %s" %d client closed request', client, request.method, request.url.path, CLIENT_CLOSED
            )
            return Response(status_code=CLIENT_CLOSED)


def create_app(
    holder: ModelHolder,
    *,
    max_new_tokens: int = 128,
    max_prompt_tokens: int | None = 256,
    max_batch_size: int = 8,
    max_waiting: int = DEFAULT_MAX_WAITING,
    reload_interval: float = 5.0,
    repetition_penalty: float = DEFAULT_REPETITION_PENALTY,
    generate: Callable | None = None,
) -> FastAPI:
    """The API around `holder` (already loaded): its generation queue and promotion watcher run with the app.
    `generate` replaces `generate_answers` (tests)."""
    queue = GenerationQueue(
        holder,
        max_prompt_tokens=max_prompt_tokens,
        max_batch_size=max_batch_size,
        max_waiting=max_waiting,
        repetition_penalty=repetition_penalty,
        generate=generate,
    )
    watch = holder.watching and reload_interval > 0

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        queue.start()
        watcher = PromotionWatcher(holder, reload_interval) if watch else None
        try:
            yield
        finally:
            if watcher:
                watcher.stop()
            await asyncio.to_thread(queue.close)
            holder.release()

    app = FastAPI(
        title="MediMind",
        summary="Answers medical questions with the promoted LoRA adapter, with a safety notice where one is due.",
        lifespan=lifespan,
        default_response_class=_AsciiJSONResponse,  # answers too, not only errors: non-ASCII escaped
        docs_url=None,  # no Swagger or ReDoc pages (their scripts come from a CDN); /openapi.json describes the API
        redoc_url=None,
    )
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(BodyLimit)

    @app.post(
        CHAT_PATH,
        response_model=ChatResponse,
        dependencies=[Depends(_require_json)],
        responses={
            400: {"description": "the body is not valid JSON"},
            413: {"description": "the body is larger than any valid request (24 MiB)"},
            415: {"description": "the body was not sent with Content-Type: application/json"},
            422: {"description": "a field is missing, of the wrong type or out of bounds (named in `error`)"},
            500: {"description": "the generation failed"},
            503: {"description": "the queue is full (Retry-After says when to retry), or the server is shutting down"},
        },
    )
    async def chat(request: ChatRequest, http_request: Request) -> Any:
        history = [Turn(t.role, t.content) for t in request.history]
        bound = request.max_new_tokens or max_new_tokens
        loaded = holder.current
        context = loaded.context_tokens
        try:
            exchanges(history)
            budget = prompt_budget(context, bound, max_prompt_tokens)
        except ValueError as exc:
            return _error(422, str(exc))
        if budget < 1:
            return _error(
                422, f"max_new_tokens: {bound} leaves no room for a prompt in the model's {context}-token context"
            )
        # As `medimind ask` refuses it: never a question cut to make room for the answer (the bound is the cause).
        prompt = loaded.served.target.template.prompt(normalise(plain_text(request.message, loaded.tokenizer)))
        question = min(loaded.count_tokens(prompt), max_prompt_tokens or context or 0)
        if context is not None and budget < question:
            return _error(422, f"max_new_tokens: {no_fit(question, bound, context)}")
        job = ChatJob(request.message, history, bound)
        try:
            queue.submit(job)
        except QueueFull as exc:
            return _error(503, str(exc), headers={"Retry-After": str(exc.retry_after)})
        except QueueClosed as exc:
            return _error(503, str(exc))
        try:
            return await _answer(http_request, queue, job)
        except Exception as exc:
            return _error(500, f"generation failed: {type(exc).__name__}: {exc}")

    async def health() -> Any:
        loaded = holder.current
        served = loaded.served
        accepting = queue.accepting
        status = "unavailable" if not accepting else "degraded" if holder.last_reload_error else "ok"
        body: dict[str, Any] = {
            "status": status,
            "source": served.source,
            "adapter": served.adapter(),
            "base_model": served.base_model,
            "base_model_path": str(served.target.model_dir),
            "dataset_version": served.dataset_version,
            "device": loaded.device,
            "loaded_at": loaded.loaded_at,
            "load_s": loaded.load_s,
            "context_tokens": loaded.context_tokens,
            "adapter_merged": loaded.merge,
            "watching": str(holder.pointer) if watch else None,
            "reload_interval_s": reload_interval if watch else None,
            "swaps": holder.swaps,
            "last_reload_at": holder.last_reload_at,
            "last_reload_error": holder.last_reload_error,
            "generating_requests": queue.generating,
            "waiting_requests": queue.waiting,
            "max_waiting_requests": queue.max_waiting,
            "refused_requests": queue.refused,
            "dropped_requests": queue.dropped,
            "stopped_requests": queue.stopped,
        }
        if served.source == SOURCE_BASE:
            body["note"] = (
                "no LoRA adapter: LORA_MODEL_PATH is unset and nothing is promoted; serving the base model alone"
            )
        if status == "degraded":
            body["reason"] = "the promoted adapter is not served (last_reload_error); an earlier model answers"
        if not accepting:
            body["reason"] = "shutting down, or the generation worker has stopped: requests are not answered"
            return _AsciiJSONResponse(status_code=503, content=jsonable_encoder(body))
        return body

    for path in HEALTH_PATHS:
        app.add_api_route(path, health, methods=["GET", "HEAD"])
    return app


def bind_address(host: str, port: int) -> socket.socket:
    """The socket bound to host:port, before the model loads for seconds or minutes and kept for `run`: a port in
    use (or an unknown host) is an OSError saying why in a moment, and no other process can take the port during
    the load (a client that connects meanwhile waits for it)."""
    # The family as uvicorn chooses it: IPv6 only for an IPv6 address, so "localhost" is 127.0.0.1 even where the
    # resolver lists ::1 first.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
        sock.bind((host, port))
        sock.listen()  # only a listening socket keeps another from binding the port (Linux, SO_REUSEADDR)
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def run(app: FastAPI, sock: socket.socket, log_level: str = "info") -> None:
    """Serve `app` until SIGINT or SIGTERM (uvicorn finishes the requests in flight first)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:  # uvicorn says where it listens only for an address it bound itself
                host, port = sock.getsockname()[:2]
                shown = f"[{host}]" if ":" in host else host
                logger.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", shown, port)

    # Bounded: a client that stalls mid-body must not keep the server from exiting (then SIGKILLed, losing all).
    config = uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    Server(config).run(sockets=[sock])

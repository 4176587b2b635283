"""`medimind serve`: real server processes on tiny-phi, asked over HTTP with a real client.

The contract of `POST /api/v1/chat` and the health endpoint, history folding, the safety line, bad requests,
truncation, what `LORA_MODEL_PATH` selects (and a broken adapter stopping the start), and a promotion swapped in
under load with every request answered. The queue's batching, its bound, clients that leave, and what is refused
before any generation (Content-Type, blank messages, errors without the input) are checked in-process first.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from medimind_assets import cli
from medimind_assets.data.safety import CAUTION_NOTICE, EMERGENCY_NOTICE
from medimind_assets.digests import sha256_file
from medimind_assets.evaluation.generation import Generated
from medimind_assets.llm.template import PromptTemplate
from medimind_assets.models import write_current_base_model
from medimind_assets.promotion import AdapterRef, promote
from medimind_assets.serving.chat import (
    MAX_HISTORY_TURNS,
    MAX_MESSAGE_CHARS,
    Exchange,
    Turn,
    build_prompt,
    exchanges,
    fold,
    is_blank,
)
from medimind_assets.serving.worker import ChatJob, GenerationQueue, QueueClosed
from medimind_assets.store import ArtifactStore
from medimind_assets_tests.model_world import evaluated

EMERGENCY = "i have crushing chest pain and my left arm is numb what do i do"
CAUTION = "how much ibuprofin can i give my 3 year old"
RESPONSE_KEYS = {
    "answer",
    "safety_level",
    "truncated_prompt",
    "history_turns_used",
    "cut_at_max_tokens",
    "adapter",
    "dataset_version",
    "base_model",
    "usage",
    "latency_s",
}


# --- in-process: the fold and the queue -------------------------------------------------------------------------


def test_history_is_folded_in_the_trained_format():
    history = [Turn("user", "What is gout?"), Turn("assistant", "Gout is  arthritis."), Turn("user", "And eczema?")]
    folded = exchanges(history)
    assert folded == [Exchange("What is gout?", "Gout is arthritis."), Exchange("And eczema?", None)]
    text = fold(PromptTemplate(), folded, "How is it\ntreated?", end_of_answer="<|endoftext|>")
    # Each answer ends on EOS, as each training example did; an unanswered turn has no answer to end.
    assert text == (
        "Human: What is gout?\nAssistant: Gout is arthritis.<|endoftext|>\nHuman: And eczema?\nAssistant:\n"
        "Human: How is it treated?\nAssistant:"
    )
    with pytest.raises(ValueError, match=r"history\[0\]: an assistant turn must follow a user turn"):
        exchanges([Turn("assistant", "Hello")])


def test_the_oldest_exchanges_go_first_then_the_question_keeps_its_end():
    words = lambda text: len(text.split())  # noqa: E731  (one token per word)
    history = [
        Turn("user", "one two three"),
        Turn("assistant", "four five"),
        Turn("user", "six"),
        Turn("assistant", "7"),
    ]
    template = PromptTemplate()
    whole = build_prompt(words, template, history, "why?", budget=100)
    assert (whole.history_turns_used, whole.truncated) == (4, False)
    assert whole.n_tokens == words(fold(template, exchanges(history), "why?"))
    newest = build_prompt(words, template, history, "why?", budget=whole.n_tokens - 1)
    assert (newest.history_turns_used, newest.truncated) == (2, True)
    assert newest.text.startswith("Human: six\nAssistant: 7\n")
    alone = build_prompt(words, template, history, "a very long question indeed", budget=3)
    assert (alone.history_turns_used, alone.truncated, alone.n_tokens) == (0, True, 3)
    calls = []
    long_history = [Turn("user", "a question of seven words in it"), Turn("assistant", "an answer of five words")] * 100
    kept = build_prompt(lambda t: calls.append(t) or words(t), template, long_history, "why?", budget=150)
    assert kept.truncated and kept.n_tokens <= 150 and kept.history_turns_used == 2 * (150 // 15)
    assert len(calls) <= 9  # a binary search, not one count per exchange


def _fake_holder() -> SimpleNamespace:
    served = SimpleNamespace(
        target=SimpleNamespace(template=PromptTemplate()),
        adapter=lambda: {"fingerprint": "fake", "path": "/fake"},
        dataset_version="v1",
        base_model="fake-base",
    )
    loaded = SimpleNamespace(
        served=served,
        model=None,
        tokenizer=SimpleNamespace(eos_token="</s>"),
        context_tokens=64,
        count_tokens=lambda t: len(t.split()),
    )
    return SimpleNamespace(current=loaded, release=lambda: None)


def test_the_queue_answers_one_batch_at_a_time_grouping_requests_of_one_bound():
    """Requests waiting while a generation runs are answered together after it, those of another max_new_tokens
    in a later batch; two generations never overlap."""
    release, running, calls = threading.Event(), [0], []

    def generate(model, tokenizer, prompts, *, max_new_tokens, batch_size, max_prompt_tokens, **_):
        running[0] += 1
        assert running[0] == 1, "two generations at once"
        calls.append((len(prompts), max_new_tokens, batch_size, max_prompt_tokens))
        release.wait(10)
        running[0] -= 1
        return [Generated(f"answer to {p.split()[-2]}", 3, stopped_on_eos=True) for p in prompts]

    queue = GenerationQueue(_fake_holder(), max_prompt_tokens=256, max_batch_size=3, generate=generate)
    queue.start()
    try:
        first = queue.submit(ChatJob("first?", [], 8))
        while not calls:
            time.sleep(0.01)
        waiting = [
            queue.submit(ChatJob(m, [], n)) for m, n in [("b?", 8), (EMERGENCY, 8), ("d?", 4), ("e?", 8), ("f?", 8)]
        ]
        release.set()
        results = [f.result(10) for f in [first, *waiting]]
    finally:
        queue.close()
    # [first], then b, EMERGENCY, e (bound 8, at most 3), then d (bound 4) and f (bound 8) one batch each.
    assert [(n, bound) for n, bound, *_ in calls] == [(1, 8), (3, 8), (1, 4), (1, 8)]
    assert calls[0][3] == 64 - 8  # the model's 64-token context leaves 56 for the prompt, under the server's 256
    assert results[0]["answer"] == "answer to first?" and results[0]["usage"]["completion_tokens"] == 3
    assert results[2]["answer"].startswith(EMERGENCY_NOTICE) and results[2]["safety_level"] == "emergency"
    assert (
        results[1]["adapter"] == {"fingerprint": "fake", "path": "/fake"} and results[1]["cut_at_max_tokens"] is False
    )


def _fake_served_holder() -> SimpleNamespace:
    holder = _fake_holder()
    holder.current.served.source = "promoted"
    holder.current.served.target.model_dir = Path("/fake/base")
    holder.current.served.describe = lambda: "adapter fake"
    for name, value in [("device", "cpu"), ("loaded_at", "now"), ("load_s", 0.0), ("merge", None)]:
        setattr(holder.current, name, value)
    for name, value in [("watching", False), ("pointer", Path("/fake/current.json")), ("swaps", 0)]:
        setattr(holder, name, value)
    holder.last_reload_at = holder.last_reload_error = None
    return holder


def test_an_unreadable_pointer_is_reported_and_the_watcher_keeps_watching(tmp_path: Path):
    """`current.json` made a folder (or a volume's read error): the served model stays, health says why, and the
    watcher thread outlives any failing check."""
    from medimind_assets.serving.holder import ModelHolder, PromotionWatcher

    holder = ModelHolder(tmp_path)
    holder.pointer.mkdir(parents=True)
    assert holder.check_promotion() is None
    assert f"{holder.pointer} cannot be read" in holder.last_reload_error
    checks = []

    def failing_check() -> None:
        checks.append(time.monotonic())
        raise RuntimeError("a check that fails")

    flaky = SimpleNamespace(check_promotion=failing_check)
    watcher = PromotionWatcher(flaky, interval=0.01)
    deadline = time.monotonic() + 10
    while len(checks) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    alive = watcher._thread.is_alive()
    watcher.stop()
    assert len(checks) >= 3 and alive


@contextmanager
def running(app) -> Iterator[str]:
    """`app` served by uvicorn on a thread, at the URL yielded."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_health_answers_while_a_generation_runs():
    """uvicorn serving the app in a thread, over HTTP: the health endpoint answers while the worker is held inside a
    generation, and the chat request is answered once it is released. An answer bound that leaves no room for the
    prompt in the model's context is a 422."""
    from medimind_assets.serving.server import create_app

    release = threading.Event()

    def generate(model, tokenizer, prompts, **_):
        release.wait(30)
        return [Generated("It is a condition.", 5, stopped_on_eos=True) for _ in prompts]

    app = create_app(_fake_served_holder(), max_new_tokens=8, reload_interval=0, generate=generate)
    try:
        with running(app) as url:
            too_long = requests.post(f"{url}/api/v1/chat", json={"message": "hi", "max_new_tokens": 64}, timeout=10)
            assert (
                too_long.status_code == 422
                and "no room for a prompt in the model's 64-token" in too_long.json()["error"]
            )
            with ThreadPoolExecutor(1) as pool:
                asked = pool.submit(requests.post, f"{url}/api/v1/chat", json={"message": "What is gout?"}, timeout=30)
                deadline = time.monotonic() + 10
                while requests.get(f"{url}/healthz", timeout=2).json()["generating_requests"] != 1:
                    assert time.monotonic() < deadline, "the request never reached the generation"
                started = time.monotonic()
                health = requests.get(f"{url}/api/v1/health", timeout=2).json()
                assert time.monotonic() - started < 1 and health["generating_requests"] == 1 and not asked.done()
                release.set()
                response = asked.result(30)
            assert response.status_code == 200 and response.json()["answer"] == "It is a condition."
    finally:
        release.set()


def test_health_says_degraded_when_the_promoted_adapter_is_not_served_and_answers_head():
    from medimind_assets.serving.server import create_app

    holder = _fake_served_holder()
    app = create_app(holder, max_new_tokens=8, reload_interval=0, generate=lambda *a, **k: [])
    with running(app) as url:
        assert requests.get(f"{url}/healthz", timeout=5).json()["status"] == "ok"
        head = requests.head(f"{url}/api/v1/health", timeout=5)  # what many load balancers send
        assert head.status_code == 200 and head.content == b""
        holder.last_reload_error = "adapters/new: adapter_model.safetensors is not what training wrote"
        health = requests.get(f"{url}/api/v1/health", timeout=5)
        assert health.status_code == 200  # an earlier model still answers: degraded, not down
        assert health.json()["status"] == "degraded" and "not served" in health.json()["reason"]


def test_an_answer_bound_that_would_cut_the_question_is_refused_as_ask_refuses_it():
    """The model's 64-token context: 60 new tokens leave 4 for a question of 10: a 422 saying how many fit, never
    an answer to a question cut to its last 4 tokens."""
    from medimind_assets.serving.server import create_app

    def generate(model, tokenizer, prompts, **_):
        return [Generated("It is a condition.", 5, stopped_on_eos=True) for _ in prompts]

    app = create_app(_fake_served_holder(), max_new_tokens=8, reload_interval=0, generate=generate)
    message = "What is gout and how is it treated?"  # 10 words with the template's: 10 tokens here
    with running(app) as url:
        refused = requests.post(f"{url}/api/v1/chat", json={"message": message, "max_new_tokens": 60}, timeout=10)
        assert refused.status_code == 422
        assert (
            "do not fit together in the model's 64-token context: ask for at most 54 new tokens"
            in (refused.json()["error"])
        )
        answered = requests.post(f"{url}/api/v1/chat", json={"message": message, "max_new_tokens": 54}, timeout=10)
        assert answered.status_code == 200


def test_a_closed_queue_or_a_stopped_worker_accepts_nothing():
    queue = GenerationQueue(_fake_holder(), generate=lambda *a, **k: [])
    assert not queue.accepting  # not started yet
    queue.start()
    assert queue.accepting
    queue.close()
    assert not queue.accepting
    with pytest.raises(QueueClosed):
        queue.submit(ChatJob("hi", [], 8))


def post_then_leave(url: str, message: str) -> socket.socket:
    """A chat request sent whole on a raw connection; closing the socket is the client leaving."""
    body = json.dumps({"message": message}).encode()
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    head = f"POST /api/v1/chat HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return sock


def wait_for_health(url: str, condition, what: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while not condition(health := requests.get(f"{url}/healthz", timeout=2).json()):
        assert time.monotonic() < deadline, f"{what}: {health}"
        time.sleep(0.02)
    return health


def test_a_client_that_leaves_is_dropped_from_the_queue_or_its_generation_stopped(caplog):
    """Abandoned requests must not make the next one wait: one that waits is dropped (never generated), the row of
    one being generated is told to stop; health counts both, and the log has a line for each (uvicorn writes none
    for a connection that is gone)."""
    from medimind_assets.serving.server import create_app

    generated, rows_stopped, release = [], [], threading.Event()

    def generate(model, tokenizer, prompts, *, unwanted=None, **_):
        generated.append(len(prompts))
        while not release.is_set() and not (unwanted and all(stop() for stop in unwanted)):
            time.sleep(0.01)
        rows_stopped.append([stop() for stop in unwanted or []])
        return [Generated("an answer", 3, stopped_on_eos=True) for _ in prompts]

    app = create_app(_fake_served_holder(), max_new_tokens=8, reload_interval=0, generate=generate)
    try:
        with running(app) as url:
            uvicorn_log = logging.getLogger("uvicorn.error")  # uvicorn's loggers do not propagate to the root's
            uvicorn_log.setLevel("INFO")
            uvicorn_log.addHandler(caplog.handler)
            generating = post_then_leave(url, "first?")
            wait_for_health(url, lambda h: h["generating_requests"] == 1, "the first request never generated")
            waiting = post_then_leave(url, "second?")
            wait_for_health(url, lambda h: h["waiting_requests"] == 1, "the second request never queued")
            waiting.close()
            health = wait_for_health(url, lambda h: h["waiting_requests"] == 0, "the request left waiting stays")
            assert health["dropped_requests"] == 1 and health["generating_requests"] == 1
            generating.close()
            health = wait_for_health(url, lambda h: h["generating_requests"] == 0, "the abandoned generation runs on")
            assert health["stopped_requests"] == 1 and rows_stopped == [[True]]
            release.set()
            answered = requests.post(f"{url}/api/v1/chat", json={"message": "third?"}, timeout=10)
            assert answered.status_code == 200 and answered.json()["answer"] == "an answer"
        assert generated == [1, 1]  # the first and the third: the second was never generated
        closed = [r.getMessage() for r in caplog.records if r.name == "uvicorn.error"]
        assert len([m for m in closed if '"POST /api/v1/chat" 499 client closed request' in m]) == 2, closed
    finally:
        release.set()
        logging.getLogger("uvicorn.error").removeHandler(caplog.handler)


def test_a_full_queue_is_a_503_with_retry_after():
    from medimind_assets.serving.server import create_app

    release = threading.Event()

    def generate(model, tokenizer, prompts, **_):
        release.wait(30)
        return [Generated("an answer", 3, stopped_on_eos=True) for _ in prompts]

    app = create_app(_fake_served_holder(), max_new_tokens=8, max_waiting=1, reload_interval=0, generate=generate)
    try:
        with running(app) as url, ThreadPoolExecutor(2) as pool:
            ask = lambda message: requests.post(f"{url}/api/v1/chat", json={"message": message}, timeout=30)  # noqa: E731
            first = pool.submit(ask, "first?")
            wait_for_health(url, lambda h: h["generating_requests"] == 1, "the first request never generated")
            second = pool.submit(ask, "second?")
            health = wait_for_health(url, lambda h: h["waiting_requests"] == 1, "the second request never queued")
            assert health["max_waiting_requests"] == 1
            refused = ask("third?")
            assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
            assert "the server is busy: its queue is full (1 waiting); retry in" in refused.json()["error"]
            assert requests.get(f"{url}/healthz", timeout=2).json()["refused_requests"] == 1
            release.set()
            assert [first.result(30).status_code, second.result(30).status_code] == [200, 200]
    finally:
        release.set()


def test_an_unwanted_row_stops_the_generation_of_a_real_model(world):
    """`unwanted` reaches transformers' generation: asked after each token, a row stops once it says so."""
    from medimind_assets.evaluation.generation import generate_answers
    from medimind_assets.llm.loading import load_for_inference, load_tokenizer

    model, tokenizer = load_for_inference(world.base_dir, "cpu"), load_tokenizer(world.base_dir)
    asked = []

    def unwanted() -> bool:
        asked.append(True)
        return len(asked) >= 3

    prompt = ["Human: What is gout?\nAssistant:"]
    [whole] = generate_answers(model, tokenizer, prompt, max_new_tokens=16, repetition_penalty=1.0)
    [stopped] = generate_answers(
        model, tokenizer, prompt, max_new_tokens=16, repetition_penalty=1.0, unwanted=[unwanted]
    )
    assert len(asked) == 3 and stopped.n_tokens <= 3 < whole.n_tokens


@pytest.fixture(scope="module")
def fake_server_url() -> Iterator[str]:
    """The app on a fake model that answers at once: for what is refused before any generation."""
    from medimind_assets.serving.server import create_app

    def generate(model, tokenizer, prompts, **_):
        return [Generated("an answer", 3, stopped_on_eos=True) for _ in prompts]

    with running(create_app(_fake_served_holder(), max_new_tokens=8, reload_interval=0, generate=generate)) as url:
        yield url


def test_a_client_stalled_mid_body_at_the_shutdown_deadline_gets_a_json_503():
    """SIGTERM while a client has sent half its body: when the graceful shutdown runs out, that client hears a 503
    in the API's JSON shape, not uvicorn's plain-text 500 (and no traceback in the log)."""
    import uvicorn

    from medimind_assets.serving.server import create_app

    app = create_app(_fake_served_holder(), max_new_tokens=8, reload_interval=0, generate=lambda *a, **k: [])
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as client:
        client.sendall(
            b"POST /api/v1/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"message": '
        )
        time.sleep(0.3)
        server.should_exit = True
        reply = client.recv(4096).decode()
    thread.join(20)
    assert reply.startswith("HTTP/1.1 503") and "application/json" in reply
    assert '"error":"the server is shutting down: the request was not read in time; retry"' in reply


def test_answers_escape_non_ascii_as_errors_do_and_no_swagger_page_is_served():
    from medimind_assets.serving.server import create_app

    def generate(model, tokenizer, prompts, **_):
        return [Generated("Le débat continue.", 3, stopped_on_eos=True) for _ in prompts]

    with running(create_app(_fake_served_holder(), max_new_tokens=8, reload_interval=0, generate=generate)) as url:
        response = requests.post(f"{url}/api/v1/chat", json={"message": "hi"}, timeout=30)
        assert response.status_code == 200 and b"d\\u00e9bat" in response.content
        assert response.json()["answer"].startswith("Le débat")
        assert requests.get(f"{url}/docs", timeout=10).status_code == 404


@pytest.mark.parametrize(
    ("headers", "sent"),
    [
        ({"Content-Type": "application/x-www-form-urlencoded"}, "is 'application/x-www-form-urlencoded'"),
        ({"Content-Type": "text/plain"}, "is 'text/plain'"),
        ({}, "is missing"),
    ],
)
def test_a_body_not_sent_as_json_is_a_415_naming_the_header(fake_server_url: str, headers: dict, sent: str):
    response = requests.post(f"{fake_server_url}/api/v1/chat", data=b'{"message": "hi"}', headers=headers, timeout=10)
    assert response.status_code == 415, response.text
    assert response.json() == {
        "error": f"the Content-Type header {sent}: send the body as JSON with Content-Type: application/json"
    }
    with_charset = {"Content-Type": "application/json; charset=utf-8"}
    ok = requests.post(f"{fake_server_url}/api/v1/chat", data=b'{"message": "hi"}', headers=with_charset, timeout=10)
    assert ok.status_code == 200


def _strict_json(text: str):
    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ('{"message": "hi", "max_new_tokens": NaN}', "max_new_tokens: Input should be a valid integer"),
        ('{"message": "hi", "max_new_tokens": -Infinity}', "max_new_tokens: Input should be a valid integer"),
        (json.dumps({"message": "pain " * 10_000}), "message: String should have at most 8000 characters"),
        (json.dumps({"message": "hi", "history": [{"role": "user", "content": "x" * 50_000}]}), "history.0.content"),
    ],
)
def test_an_error_is_strict_json_without_the_input(fake_server_url: str, payload: str, error: str):
    response = requests.post(
        f"{fake_server_url}/api/v1/chat", data=payload, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 422 and len(response.content) < 1000, response.text[:200]
    body = _strict_json(response.text)
    assert error in body["error"] and all("input" not in item for item in body["detail"])


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"message": "hi", "max_tokens": 1}, "max_tokens"),
        ({"message": "hi", "history": [{"role": "user", "content": "x", "name": "a"}]}, "history.0.name"),
    ],
)
def test_a_misspelt_or_unknown_field_is_a_422_naming_it(fake_server_url: str, payload: dict, field: str):
    """Not a silent default: "max_tokens" for max_new_tokens would otherwise generate the server's bound."""
    response = requests.post(f"{fake_server_url}/api/v1/chat", json=payload, timeout=10)
    assert response.status_code == 422 and f"{field}: Extra inputs are not permitted" in response.json()["error"]


def test_the_largest_valid_request_is_under_the_body_bound():
    """200 turns of 8,000 characters outside the BMP, each escaped as a surrogate pair ("\\ud83d\\ude00", 12 bytes)
    as `json.dumps` writes them: valid, so never a 413."""
    from medimind_assets.serving.server import MAX_BODY_BYTES

    turn = {"role": "user", "content": "\U0001f600" * MAX_MESSAGE_CHARS}
    body = json.dumps({"message": "\U0001f600" * MAX_MESSAGE_CHARS, "history": [turn] * MAX_HISTORY_TURNS})
    assert len(body.encode()) < MAX_BODY_BYTES


def test_a_body_larger_than_any_valid_request_is_a_413_before_it_is_read(fake_server_url: str):
    from medimind_assets.serving.server import MAX_BODY_BYTES

    big = b'{"message": "hi", "pad": "' + b"a" * (MAX_BODY_BYTES + 10) + b'"}'
    declared = requests.post(
        f"{fake_server_url}/api/v1/chat", data=big, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert declared.status_code == 413 and f"at most {MAX_BODY_BYTES:,} are accepted" in declared.json()["error"]
    chunks = (big[i : i + 2**20] for i in range(0, len(big), 2**20))  # sent without a Content-Length
    chunked = requests.post(
        f"{fake_server_url}/api/v1/chat", data=chunks, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert chunked.status_code == 413
    assert requests.get(f"{fake_server_url}/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize(
    "invisible", ["\u200b\u200b", "\u200c\u200d", " \u2060\ufeff ", "\u00ad\u180e", "\u3164", "\u034f\ufe0f"]
)
def test_a_message_with_nothing_visible_is_blank(fake_server_url: str, invisible: str):
    response = requests.post(f"{fake_server_url}/api/v1/chat", json={"message": invisible}, timeout=10)
    assert response.status_code == 422 and "message: Value error, the message is blank" in response.json()["error"]
    assert is_blank(invisible) and not is_blank(invisible + "é") and not is_blank("e\u0301")


def test_a_pinned_adapter_is_labelled_with_the_base_it_is_served_on(world, tmp_path: Path):
    """The base's name is the loaded base's, not the one the adapter's training summary recorded."""
    from medimind_assets.serving.holder import resolve_served

    data = pipeline_data(tmp_path, world)
    adapter = shutil.copytree(world.trained_adapter, tmp_path / "adapter")
    summary = json.loads((adapter / "training_summary.json").read_text())
    summary["base_model"] = {"name": "renamed-since", "content_hash": world.manifest["content_hash"]}
    (adapter / "training_summary.json").write_text(json.dumps(summary))
    assert resolve_served(data, adapter).base_model == world.manifest["name"] == "tiny-phi"


# --- real server processes ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log: Path

    def chat(self, body, **kwargs) -> requests.Response:
        return requests.post(f"{self.url}/api/v1/chat", json=body, timeout=60, **kwargs)

    def health(self) -> dict:
        response = requests.get(f"{self.url}/api/v1/health", timeout=30)
        assert response.status_code == 200
        return response.json()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def serve_command(data: Path, *args: str, env: dict | None = None) -> tuple[list[str], dict]:
    environment = {key: value for key, value in os.environ.items() if key != "LORA_MODEL_PATH"}
    environment.update({"MEDIMIND_DATA_DIR": str(data), **(env or {})})
    return [sys.executable, "-m", "medimind_assets.cli", "serve", "--device", "cpu", *args], environment


def start_server(data: Path, log: Path, *args: str, env: dict | None = None) -> Server:
    port = free_port()
    command, environment = serve_command(data, "--port", str(port), *args, env=env)
    with open(log, "w", encoding="utf-8") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{server.output()}")
        try:
            if requests.get(f"{server.url}/healthz", timeout=5).status_code == 200:
                return server
        # The port is held from before the model loads: a request waits in its backlog until the app answers.
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    server.stop()
    pytest.fail(f"the server did not start within 180s:\n{server.output()}")


def pipeline_data(root: Path, world) -> Path:
    """A data folder as the pipeline leaves it: the dataset and the current base model, nothing promoted."""
    data = root / "data"
    (data / "adapters").mkdir(parents=True)
    shutil.copy(world.dataset, data / "dataset.jsonl")
    write_current_base_model(ArtifactStore.at(data), world.manifest)
    return data


def promote_adapter(data: Path, world, adapter: Path) -> dict:
    """What the evaluation asset writes when the gate passes (atomically)."""
    record = evaluated(
        world,
        adapter,
        dataset_data_version=sha256_file(data / "dataset.jsonl"),
        trained_on_dataset_version=sha256_file(data / "dataset.jsonl"),
    )
    return promote(ArtifactStore.at(data), AdapterRef(adapter.name, adapter), record)


@pytest.fixture(scope="module")
def promoted_server(world, tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    data = pipeline_data(root, world)
    promote_adapter(data, world, world.trained_adapter)
    server = start_server(data, root / "server.log", "--max-new-tokens", "8")
    server.data = data
    yield server
    server.stop()


@pytest.mark.slow
def test_the_chat_contract_and_the_health_endpoint(world, promoted_server: Server):
    from medimind_assets.serving.ask import ask, resolve_targets

    response = promoted_server.chat({"message": "What is gout?", "history": []})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == RESPONSE_KEYS
    assert body["adapter"] == {"fingerprint": "trained", "path": str(world.trained_adapter)}
    assert body["dataset_version"] == sha256_file(world.dataset) and body["base_model"] == "tiny-phi"
    assert body["safety_level"] == "safe" and body["truncated_prompt"] is False and body["history_turns_used"] == 0
    assert 1 <= body["usage"]["completion_tokens"] <= 8 and body["usage"]["prompt_tokens"] > 0 and body["latency_s"] > 0
    # What is served is what the gate promoted, decoded as `medimind ask` decodes it.
    [(_, expected)] = ask(resolve_targets(promoted_server.data), "What is gout?", max_new_tokens=8, device="cpu")
    assert body["answer"] == (expected.text or "(empty answer)")
    assert body["cut_at_max_tokens"] is (not expected.stopped_on_eos)
    assert body["usage"]["completion_tokens"] == expected.n_tokens

    health = promoted_server.health()
    assert health["status"] == "ok" and health["source"] == "promoted"
    assert health["adapter"] == body["adapter"] and health["base_model"] == "tiny-phi"
    assert health["dataset_version"] == body["dataset_version"] and health["loaded_at"]
    assert health["last_reload_error"] is None and health["watching"].endswith("adapters/current.json")
    # Merged into the base in memory, proven: the same logits as base + adapter, and the same answer as `ask`.
    assert health["adapter_merged"]["max_abs_logit_diff"] <= health["adapter_merged"]["bound"]
    assert requests.get(f"{promoted_server.url}/healthz", timeout=10).json()["adapter"] == health["adapter"]
    output = promoted_server.output()
    assert f"Loading LoRA adapter from: {world.trained_adapter} \u2705" in output
    assert f"Uvicorn running on {promoted_server.url}" in output
    assert output.index("Loading LoRA adapter") < output.index("Uvicorn running")


@pytest.mark.slow
def test_history_is_folded_into_the_prompt(world, promoted_server: Server):
    from medimind_assets.llm.loading import load_tokenizer

    tokenizer = load_tokenizer(world.base_dir)
    history = [
        {"role": "user", "content": "What is gout?"},
        {"role": "assistant", "content": "Gout is a form of arthritis."},
        {"role": "user", "content": "Is it painful?"},
        {"role": "assistant", "content": "Yes, often in the big toe."},
    ]
    body = promoted_server.chat({"message": "How is it treated?", "history": history}).json()
    turns = exchanges([Turn(t["role"], t["content"]) for t in history])
    folded = fold(PromptTemplate(), turns, "How is it treated?", end_of_answer=tokenizer.eos_token)
    assert body["history_turns_used"] == 4 and body["truncated_prompt"] is False
    ids = tokenizer(folded, add_special_tokens=False)["input_ids"]
    assert body["usage"]["prompt_tokens"] == len(ids)
    assert ids.count(tokenizer.eos_token_id) == 2  # each previous answer ends on the one EOS token, as in training

    long_history = history * 40  # far over the 256-token prompt bound: the oldest turns go first
    cut = promoted_server.chat({"message": "How is it treated?", "history": long_history}).json()
    assert cut["truncated_prompt"] is True and 0 < cut["history_turns_used"] < len(long_history)
    assert cut["history_turns_used"] % 2 == 0 and cut["usage"]["prompt_tokens"] <= 256


@pytest.mark.slow
def test_an_over_long_message_is_cut_as_the_evaluation_cuts_it_and_says_so(promoted_server: Server):
    body = promoted_server.chat({"message": "what does the pain in my heart mean " * 100}).json()
    assert body["truncated_prompt"] is True and body["usage"]["prompt_tokens"] == 256
    body = promoted_server.chat({"message": "What is gout?", "max_new_tokens": 2}).json()
    assert body["usage"]["completion_tokens"] <= 2


@pytest.mark.slow
@pytest.mark.parametrize(("question", "level"), [(EMERGENCY, "emergency"), (CAUTION, "caution")])
def test_every_answer_carries_the_safety_line_of_its_question(promoted_server: Server, question, level):
    body = promoted_server.chat({"message": question, "history": []}).json()
    assert body["safety_level"] == level
    if level == "emergency":
        assert body["answer"].startswith(EMERGENCY_NOTICE + "\n\n")
    else:
        assert body["answer"].endswith("\n\n" + CAUTION_NOTICE)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("payload", "status", "names"),
    [
        ('{"message": "What is gout?",', 400, "not valid JSON"),
        ("{}", 422, "message: Field required"),
        ('{"history": []}', 422, "message: Field required"),
        ('{"message": 42}', 422, "message: Input should be a valid string"),
        ('{"message": "   "}', 422, "message: Value error, the message is blank"),
        ('{"message": "hi", "history": "none"}', 422, "history: Input should be a valid list"),
        ('{"message": "hi", "history": [{"role": "doctor", "content": "x"}]}', 422, "history.0.role"),
        ('{"message": "hi", "history": [{"role": "user"}]}', 422, "history.0.content: Field required"),
        ('{"message": "hi", "history": [{"role": "assistant", "content": "x"}]}', 422, "history[0]: an assistant"),
        ('{"message": "hi", "max_new_tokens": 0}', 422, "max_new_tokens: Input should be greater than or equal"),
        ('{"message": "hi", "max_new_tokens": "8"}', 422, "max_new_tokens: Input should be a valid integer"),
        (json.dumps({"message": "x" * 8001}), 422, "message: String should have at most 8000 characters"),
        ("[1, 2]", 422, "body: Input should be a valid dictionary"),
        ('{"message": "pain \\ud800 here"}', 422, "message: Input should be a valid string"),  # a lone surrogate
        ('{"message": "caf\xe9?"}'.encode("latin-1"), 400, "the request body cannot be read as JSON: not UTF-8"),
        ("{}", 404, "Not Found"),  # at an unknown path, below
    ],
)
def test_bad_requests_are_4xx_naming_the_field(promoted_server: Server, payload, status, names):
    response = requests.post(
        f"{promoted_server.url}/api/v1/{'chats' if status == 404 else 'chat'}",
        data=payload,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == status, response.text
    assert names in response.json()["error"]


@pytest.mark.slow
def test_any_lone_surrogate_or_non_utf8_byte_is_a_4xx_in_the_error_shape(promoted_server: Server):
    """Across the surrogate range and the bytes UTF-8 never starts with, in the message or the history."""
    from medimind_assets.serving.server import BODY_UNREADABLE

    url = f"{promoted_server.url}/api/v1/chat"
    headers = {"Content-Type": "application/json"}
    with requests.Session() as session:
        for code in range(0xD800, 0xE000, 0x7F):
            escaped = f"\\u{code:04x}"
            for body in (
                f'{{"message": "pain {escaped}"}}',
                f'{{"message": "hi", "history": [{{"role": "user", "content": "{escaped}"}}]}}',
            ):
                response = session.post(url, data=body, headers=headers, timeout=30)
                assert response.status_code == 422 and "valid string" in response.json()["error"], body
        for byte in (0x80, 0xA9, 0xC0, 0xE9, 0xFF):
            body = b'{"message": "caf' + bytes([byte]) + b'?"}'
            response = session.post(url, data=body, headers=headers, timeout=30)
            assert response.status_code == 400 and response.json() == {"error": BODY_UNREADABLE}


@pytest.mark.slow
def test_concurrent_requests_are_all_answered(promoted_server: Server):
    questions = [f"What is {topic}?" for topic in ["gout", "eczema", "asthma", "anemia", "migraine", "angina"]]
    questions += [EMERGENCY, CAUTION]
    with ThreadPoolExecutor(len(questions)) as pool:
        pending = [pool.submit(promoted_server.chat, {"message": q, "max_new_tokens": 64}) for q in questions]
        assert promoted_server.health()["status"] == "ok"
        answers = [p.result() for p in pending]
    assert [a.status_code for a in answers] == [200] * len(questions)
    assert answers[-2].json()["answer"].startswith(EMERGENCY_NOTICE)
    assert answers[-1].json()["answer"].endswith(CAUTION_NOTICE)


@pytest.mark.slow
def test_lora_model_path_serves_that_adapter_pinned_and_unmerged_on_request(world, tmp_path: Path):
    data = pipeline_data(tmp_path, world)
    promote_adapter(data, world, world.trained_adapter)  # LORA_MODEL_PATH wins over the promotion
    log = tmp_path / "server.log"
    server = start_server(data, log, "--no-merge", env={"LORA_MODEL_PATH": str(world.random_adapter)})
    try:
        health = server.health()
        assert health["source"] == "LORA_MODEL_PATH" and health["watching"] is None
        assert health["adapter_merged"] is None  # base + adapter, as the evaluation computes it
        assert health["adapter"] == {"fingerprint": "random", "path": str(world.random_adapter)}
        body = server.chat({"message": "What is a headache?", "history": [], "max_new_tokens": 4}).json()
        assert body["adapter"]["fingerprint"] == "random"
        assert f"Loading LoRA adapter from: {world.random_adapter}" in server.output()
        # The lease retention reads: the pinned adapter is in use while this server runs.
        assert ArtifactStore.at(data).leased_adapters() == {world.random_adapter.resolve()}
    finally:
        server.stop()
    assert not list((data / "serving").glob("*.json"))  # a server that stops releases its lease


@pytest.mark.slow
@pytest.mark.parametrize("broken", ["missing", "truncated", "promoted-missing"])
def test_an_adapter_that_fails_is_an_error_at_start_never_the_base(world, tmp_path: Path, broken: str):
    data = pipeline_data(tmp_path, world)
    adapter = tmp_path / "retrained" / "trained"  # its summary's fingerprint
    shutil.copytree(world.trained_adapter, adapter)
    env = {}
    if broken == "missing":
        env["LORA_MODEL_PATH"] = str(tmp_path / "no-such-adapter")
        says = f"LORA_MODEL_PATH={tmp_path / 'no-such-adapter'}: LoRA adapter not found"
    elif broken == "truncated":
        weights = adapter / "adapter_model.safetensors"
        weights.write_bytes(weights.read_bytes()[:-100])
        env["LORA_MODEL_PATH"] = str(adapter)
        says = "adapter_model.safetensors"
    else:
        promote_adapter(data, world, adapter)
        shutil.rmtree(adapter)
        says = "LoRA adapter not found"
    command, environment = serve_command(data, "--port", str(free_port()), env=env)
    proc = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("medimind serve: ") and says in err[0], proc.stderr
    assert "Traceback" not in proc.stderr and "Loading LoRA adapter" not in proc.stdout


def test_a_port_in_use_is_one_line_and_exit_2(world, data_dir: Path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["serve", "--port", str(port), "--data-dir", str(data_dir), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"cannot listen on 127.0.0.1:{port}" in err[0]


def test_the_command_line_imports_no_web_or_model_stack():
    code = "import sys, medimind_assets.cli; print([m for m in ('torch', 'fastapi', 'uvicorn') if m in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


@pytest.mark.slow
def test_a_promotion_is_swapped_in_under_load_with_every_request_answered(world, tmp_path: Path):
    """Nothing promoted: the base alone, and health says so. Then two promotions and a broken one while a client
    asks without pause: every request is answered (200), each by the model served when it started, and the
    fingerprints only move forward."""
    data = pipeline_data(tmp_path, world)
    server = start_server(data, tmp_path / "server.log", "--reload-interval", "0.3")
    statuses: list[int] = []
    fingerprints: list[str | None] = []
    stop = threading.Event()

    def client() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                response = session.post(
                    f"{server.url}/api/v1/chat", json={"message": "What is gout?", "max_new_tokens": 4}, timeout=60
                )
                statuses.append(response.status_code)
                if response.status_code == 200:
                    adapter = response.json()["adapter"]
                    fingerprints.append(adapter["fingerprint"] if adapter else None)

    def wait_for(condition, what: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = server.health()
            if condition(health):
                return health
            time.sleep(0.2)
        pytest.fail(f"{what} within {timeout}s; health: {server.health()}\n{server.output()}")

    def answered_since(count: int) -> None:
        deadline = time.monotonic() + 30
        while len(statuses) < count + 3 and time.monotonic() < deadline:
            time.sleep(0.05)

    thread = threading.Thread(target=client)
    try:
        health = server.health()
        assert health["source"] == "base" and health["adapter"] is None and "base model alone" in health["note"]
        assert "No LoRA adapter" in server.output()
        thread.start()
        answered_since(0)
        promote_adapter(data, world, world.trained_adapter)
        wait_for(lambda h: (h["adapter"] or {}).get("fingerprint") == "trained", "the first promotion not served")
        answered_since(len(statuses))
        promote_adapter(data, world, world.random_adapter)
        health = wait_for(lambda h: h["adapter"]["fingerprint"] == "random", "the second promotion not served")
        assert health["swaps"] == 2 and health["source"] == "promoted"
        answered_since(len(statuses))
        # A promotion that cannot be loaded leaves the served model in place and says why.
        broken = tmp_path / "broken"
        shutil.copytree(world.identity_adapter, broken)
        (broken / "adapter_config.json").unlink()
        promote_adapter(data, world, broken)
        health = wait_for(lambda h: h["last_reload_error"], "the broken promotion not reported")
        assert "LoRA adapter not found" in health["last_reload_error"] and health["adapter"]["fingerprint"] == "random"
        answered_since(len(statuses))
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(60)
        server.stop()
    assert statuses and set(statuses) == {200}, statuses
    order = {None: 0, "trained": 1, "random": 2}
    assert [order[f] for f in fingerprints] == sorted(order[f] for f in fingerprints)
    assert {None, "trained", "random"} <= set(fingerprints)


def test_the_same_adapter_folder_promoted_again_with_other_bytes_is_other_weights(world, tmp_path: Path):
    """Retrained in place and evaluated again: the promotion record's file digests change, so the server loads the
    new bytes instead of keeping the old weights as 'the same adapter'."""
    from medimind_assets.serving.holder import resolve_served

    data = pipeline_data(tmp_path, world)
    adapter = tmp_path / "retrained" / "trained"  # its summary's fingerprint
    shutil.copytree(world.trained_adapter, adapter)
    promote_adapter(data, world, adapter)
    first = resolve_served(data)
    promote_adapter(data, world, adapter)  # the same bytes promoted again: nothing to load
    assert resolve_served(data).key == first.key
    shutil.copy(world.random_adapter / "adapter_model.safetensors", adapter / "adapter_model.safetensors")
    promote_adapter(data, world, adapter)
    assert resolve_served(data).key != first.key


def test_a_pointer_unreadable_for_a_moment_is_not_reported_once_it_reads_again(tmp_path: Path):
    from medimind_assets.serving.holder import ModelHolder

    holder = ModelHolder(tmp_path)
    holder.pointer.mkdir(parents=True)
    assert holder.check_promotion() is None and "cannot be read" in holder.last_reload_error
    holder.pointer.rmdir()  # readable again (here: gone, which leaves the served model in place)
    assert holder.check_promotion() is None and holder.last_reload_error is None


def test_any_text_made_only_of_invisible_characters_is_blank_and_one_visible_one_is_not():
    import random
    import unicodedata

    from medimind_assets.serving.chat import is_blank

    invisible = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in ("Zs", "Cf", "Cc")]
    rng = random.Random(0)
    for _ in range(2000):
        text = "".join(rng.choice(invisible) for _ in range(rng.randint(1, 12)))
        assert is_blank(text), repr(text)
        assert not is_blank(text + "a" + text)


def test_shutdown_waits_a_bounded_time_for_the_requests_in_flight(monkeypatch):
    """A client stalled mid-body must not keep a SIGTERMed server up until it is SIGKILLed."""
    import uvicorn

    from medimind_assets.serving.server import GRACEFUL_SHUTDOWN_S, bind_address, run

    served = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: served.append((self.config, sockets)))
    sock = bind_address("127.0.0.1", 0)
    try:
        run(object(), sock)
    finally:
        sock.close()
    config, sockets = served[0]
    assert config.timeout_graceful_shutdown == GRACEFUL_SHUTDOWN_S <= 60 and sockets == [sock]


def test_the_port_is_held_from_before_the_model_loads():
    """Another process that binds the port while the model loads would make the server fail after the load."""
    from medimind_assets.serving.server import bind_address

    held = bind_address("127.0.0.1", 0)
    try:
        port = held.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind_address("127.0.0.1", port)
        other = socket.socket()
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server binds
        with pytest.raises(OSError), other:
            other.bind(("127.0.0.1", port))
            other.listen()
    finally:
        held.close()


@pytest.mark.parametrize(
    "body", ['{"message": "hi", "max_new_tokens": ' + "9" * 5000 + "}", "[" * 100_000 + "]" * 100_000]
)
def test_a_body_json_cannot_parse_is_a_400_saying_what_it_may_be(fake_server_url: str, body: str):
    from medimind_assets.serving.server import BODY_UNREADABLE

    response = requests.post(
        f"{fake_server_url}/api/v1/chat", data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 400 and response.json() == {"error": BODY_UNREADABLE}
    assert "number of over 4,300 digits" in BODY_UNREADABLE and "nested too deep" in BODY_UNREADABLE


def test_localhost_is_served_on_ipv4_whatever_the_resolver_lists_first(monkeypatch):
    """As uvicorn binds it: where /etc/hosts maps ::1 to localhost first, 127.0.0.1 must still answer."""
    from medimind_assets.serving.server import bind_address

    monkeypatch.setattr(
        socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", a[1], 0, 0))]
    )
    sock = bind_address("localhost", 0)
    try:
        assert sock.family == socket.AF_INET and sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()


def test_retry_after_counts_the_batches_ahead_not_only_the_last_one():
    """Five requests of 300 tokens queued behind one another, one at a time: "retry in 1 s" had clients hammer."""
    import time

    from medimind_assets.serving.worker import ChatJob, GenerationQueue

    queue = GenerationQueue(_fake_holder(), max_batch_size=1, max_waiting=3)
    queue._last_batch_s = 10.0
    queue._batch_started = time.monotonic() - 2.0
    queue._pending.extend(ChatJob("q", [], 300) for _ in range(3))
    assert queue._retry_after() == 40  # the batch generating and three waiting, 10 s each
    queue._batch_started = time.monotonic() - 25.0  # this batch is slower than the last
    assert 100 <= queue._retry_after() <= 101


def test_a_request_cut_off_by_the_shutdown_stops_its_row_and_gets_a_json_503():
    """The graceful shutdown's end cancels the requests still running: they got uvicorn's plain-text 500 and their
    rows went on generating for as long again."""
    import asyncio
    from concurrent.futures import Future

    from medimind_assets.serving.server import _answer
    from medimind_assets.serving.worker import ChatJob

    abandoned = []

    class Queue:
        def abandon(self, job):
            abandoned.append(job)

    class Connected:
        async def is_disconnected(self):
            return False

    async def cut_off():
        job = ChatJob("q", [], 8, future=Future())
        task = asyncio.ensure_future(_answer(Connected(), Queue(), job))
        await asyncio.sleep(0.05)
        task.cancel()
        return job, await task

    job, response = asyncio.run(cut_off())
    assert abandoned == [job] and response.status_code == 503
    assert json.loads(response.body)["error"].startswith("the server is shutting down")

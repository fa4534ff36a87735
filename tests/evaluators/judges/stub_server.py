"""A loopback OpenAI-compatible stub for the judge tests: canned verdicts and scripted faults.

Replies are taken from a FIFO script first (``enqueue``), then from ``responder`` (default: a
verdict whose score is read from the question text, ``"score=0.3"`` -> 0.3). The server
records every request and the peak number of requests in flight.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_SCORE = re.compile(r"score=([0-9.]+)")


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON; str/bytes -> sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def completion(content: str, prompt_tokens: int = 100, completion_tokens: int = 20) -> dict:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "model": "stub-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def verdict_reply(request: dict) -> Reply:
    """Score from ``score=X`` in the user message (default 0.9), label picked to match."""
    text = request["messages"][-1]["content"]
    found = _SCORE.search(text)
    score = float(found.group(1).rstrip(".")) if found else 0.9
    system = request["messages"][0]["content"]
    label = "correct" if score >= 0.5 else "incorrect"
    if '"safe"' in system:
        label = "safe" if score >= 0.5 else "unsafe"
    elif '"sufficient"' in system:
        label = "sufficient" if score >= 0.5 else "insufficient"
    verdict = {"score": score, "label": label, "rationale": f"stub says {score}"}
    return Reply(body=completion(json.dumps(verdict)))


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict


class StubServer:
    def __init__(self, responder: Callable[[dict], Reply] = verdict_reply) -> None:
        self.responder = responder
        self.script: deque[Reply] = deque()
        self.requests: list[Seen] = []
        self.times: list[float] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def enqueue(self, *replies: Reply) -> None:
        self.script.extend(replies)

    @property
    def count(self) -> int:
        return len(self.requests)

    def _next(self, request: dict) -> Reply:
        with self._lock:
            if self.script:
                return self.script.popleft()
        return self.responder(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = json.loads(raw)
                with stub._lock:
                    stub.requests.append(Seen(self.path, dict(self.headers), request))
                    stub.times.append(time.monotonic())
                    stub.active += 1
                    stub.max_active = max(stub.max_active, stub.active)
                try:
                    reply = stub._next(request)
                    time.sleep(reply.delay)
                    body = reply.body
                    if isinstance(body, dict):
                        body = json.dumps(body)
                    data = body.encode() if isinstance(body, str) else (body or b"")
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and hung up
                finally:
                    with stub._lock:
                        stub.active -= 1

        return Handler

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@contextmanager
def running_stub(responder: Callable[[dict], Reply] = verdict_reply) -> Iterator[StubServer]:
    server = StubServer(responder).start()
    try:
        yield server
    finally:
        server.stop()

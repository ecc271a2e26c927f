"""Client streams that cannot hold the server: a cap on open streams and idle and total timeouts.

grpc-python runs every call on one thread of the server's pool until it returns, and a client
stream's request iterator blocks until the client sends. Without bounds, 16 clients that open
a stream and send nothing hold all 16 workers, and searches and health checks wait behind them.
So client-streaming calls pass :class:`StreamGate` (at most ``Limits.max_client_streams`` at
once, the rest of the pool stays free for unary calls and health; over it: RESOURCE_EXHAUSTED at
once), and :func:`guarded` reads the stream on a helper thread so that a stream silent for
``stream_idle_seconds``, or open longer than ``stream_total_seconds``, is closed with
DEADLINE_EXCEEDED, and one of more than ``max_stream_messages`` messages (a byte at a time, say) with
RESOURCE_EXHAUSTED. When the call ends, grpc ends the iterator and the helper thread with it.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from server.limits import Abort, Limits, too_big

_END = object()


class StreamGate:
    """A non-blocking counter of open client streams."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self._lock = threading.Lock()

    @contextmanager
    def enter(self):
        with self._lock:
            if self.open >= self.limit:
                raise too_big(f"the server has {self.limit} client streams open; try again shortly")
            self.open += 1
        try:
            yield
        finally:
            with self._lock:
                self.open -= 1


def guarded(request_iterator, context, limits: Limits) -> Iterator:
    """The messages of a client stream, closing it with DEADLINE_EXCEEDED when the client goes silent for
    ``stream_idle_seconds`` or the stream lasts longer than ``stream_total_seconds``, and with CANCELLED when
    the client cancels."""
    messages: queue.Queue = queue.Queue(maxsize=4)  # bounded: a fast sender waits for the handler (flow control)
    closed = threading.Event()

    def put(item) -> bool:
        while not closed.is_set():
            try:
                messages.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for message in request_iterator:
                if not put(message):
                    return
        except Exception:  # noqa: BLE001, S110 -- cancelled or ended: the handler sees the end marker
            pass
        put(_END)

    threading.Thread(target=read, name="client-stream", daemon=True).start()
    try:
        yield from _take(messages, context, limits)
    finally:
        closed.set()


def _take(messages: queue.Queue, context, limits: Limits) -> Iterator:
    deadline = time.monotonic() + limits.stream_total_seconds
    for count in itertools.count(1):
        wait = min(limits.stream_idle_seconds, deadline - time.monotonic())
        try:
            message = messages.get(timeout=max(wait, 0.0))
        except queue.Empty:
            if time.monotonic() >= deadline:
                total = limits.stream_total_seconds
                raise Abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"the stream took longer than {total:g} s") from None
            idle = limits.stream_idle_seconds
            raise Abort(
                grpc.StatusCode.DEADLINE_EXCEEDED, f"no message for {idle:g} s: the stream was closed"
            ) from None
        if message is _END:
            if not context.is_active():
                raise Abort(grpc.StatusCode.CANCELLED, "the call was cancelled")
            return
        if count > limits.max_stream_messages:
            raise too_big(f"the stream has over {limits.max_stream_messages} messages: send larger chunks")
        yield message

"""A gthread worker that answers GET /ping, and TF Serving REST requests, on pools of their own.

gunicorn's gthread worker hands every connection to one pool of SAGEMAKER_GUNICORN_THREADS
threads; when all of them run inference, a health check would wait in the pool's queue behind
it and SageMaker's 2-second /ping deadline could pass. This worker peeks at the first bytes of
each request (MSG_PEEK, nothing is consumed) and gives `GET /ping` to a separate pool, so
/ping never waits for an inference thread.

`POST /v1/...` (TF Serving REST predict) gets a pool of its own too: a custom `handler` that
calls `context.rest_uri` holds an /invocations thread while its inner request runs, and with
one shared pool, as many such calls as threads would wait for each other forever. Everything
else goes to the usual pool.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from concurrent import futures

from gunicorn.workers import gthread

_PING = b"GET /ping"
_PING_THREADS = 2
_TF_SERVING = b"POST /v1/"
# gunicorn >= 25 hands a connection to the pool before its bytes arrive and lets the pool defer
# it; older gthread workers wait for readable sockets themselves, so there is nothing to defer.
_DEFER = getattr(gthread, "_DEFER", None)


def _request_start(conn: object) -> bytes | None:
    """The request's first bytes without consuming them; None when none have arrived yet."""
    sock = conn.sock  # type: ignore[attr-defined]
    try:
        return sock.recv(max(len(_PING) + 1, len(_TF_SERVING)), socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""  # a broken connection: the usual pool reports it


def _buffered(conn: object) -> bool:
    """A kept-alive connection whose parser already read ahead: the socket's bytes come later."""
    parser = getattr(conn, "parser", None)
    unreader = getattr(parser, "unreader", None)
    buf = getattr(unreader, "buf", None)
    return bool(buf is not None and buf.getvalue())


class _RoutingPool:
    """The worker's `tpool`: submits each connection to the ping, TF Serving or request pool."""

    def __init__(self, threads: int, serving: Callable[[], bool]):
        self.serving = serving
        self.requests = futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="request")
        self.tf_serving = futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tf-serving")
        self.pings = futures.ThreadPoolExecutor(max_workers=_PING_THREADS, thread_name_prefix="ping")

    def submit(self, fn, conn) -> futures.Future:  # noqa: ANN001 (gunicorn's own call)
        start = None if _buffered(conn) else _request_start(conn)
        if start is None and _DEFER is not None and not _buffered(conn) and self.serving():
            deferred: futures.Future = futures.Future()
            deferred.set_result(_DEFER)  # gunicorn waits for the bytes on its poller, then resubmits
            return deferred
        if start is not None and start[: len(_PING)] == _PING and start[len(_PING) :] in (b" ", b"?"):
            return self.pings.submit(fn, conn)
        if start is not None and start.startswith(_TF_SERVING):
            return self.tf_serving.submit(fn, conn)
        return self.requests.submit(fn, conn)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        for pool in (self.requests, self.tf_serving, self.pings):
            pool.shutdown(wait, cancel_futures=cancel_futures)


class PingFirstWorker(gthread.ThreadWorker):
    """gthread with /ping answered beside, never behind, the inference threads, and TF Serving
    REST predicts beside the /invocations that may make them."""

    def get_thread_pool(self) -> _RoutingPool:
        return _RoutingPool(self.cfg.threads, lambda: self.alive)

"""Run one function in a forked child while the caller goes on, and take its result later.

Why a process and not a thread: the work this is for (a CLI query's freshness check: one
``os.stat`` per indexed file, 25K on a large tree) is mostly Python under the GIL, and so is
what the caller does meanwhile (importing numpy and the retrieval modules).  Two threads take
turns; a forked child runs on another core, and costs ~1 ms to start because it shares the
parent's memory.

Fork only where it is safe: on Linux, from a process running a single thread (a child forked
from a threaded process can inherit a lock some other thread held, and hang on it).  Anywhere
else, or when the fork or the child fails, :meth:`ForkedCall.result` runs the function in the
caller: the same answer, without the overlap, and the function's own exception when it raises
one.  The result travels back pickled through a pipe, so it must be picklable.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ForkedCall(Generic[T]):
    """``fn(*args)`` started in a forked child (where possible); :meth:`result` waits for it."""

    def __init__(self, fn: Callable[..., T], args: tuple[Any, ...]) -> None:
        self._fn = fn
        self._args = args
        self._pid: int | None = None
        self._read_fd: int | None = None

    @classmethod
    def start(cls, fn: Callable[..., T], *args: Any) -> ForkedCall[T]:
        call = cls(fn, args)
        if sys.platform.startswith("linux") and threading.active_count() == 1:
            call._fork()
        return call

    @property
    def forked(self) -> bool:
        """Whether a child is (or was) computing the result."""
        return self._pid is not None

    def _fork(self) -> None:
        try:
            read_fd, write_fd = os.pipe()
        except OSError:
            return
        try:
            pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            return
        if pid == 0:  # the child: compute, send, and leave without running the parent's exit handlers
            code = 1
            gc.disable()  # short-lived: a full collection would touch, and so copy, every page it shares
            try:
                os.close(read_fd)
                payload = pickle.dumps(self._fn(*self._args), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write_fd, "wb") as out:
                    out.write(payload)
                code = 0
            except BaseException:  # the parent runs the function again and sees the error
                pass
            finally:
                os._exit(code)
        os.close(write_fd)
        self._pid, self._read_fd = pid, read_fd

    def result(self) -> T:
        """The function's result: the child's, or computed here when there was no usable child."""
        if self._pid is None or self._read_fd is None:
            return self._fn(*self._args)
        with os.fdopen(self._read_fd, "rb") as pipe:
            self._read_fd = None
            data = pipe.read()
        try:
            _, status = os.waitpid(self._pid, 0)
            succeeded = os.waitstatus_to_exitcode(status) == 0
        except ChildProcessError:  # reaped by someone else: trust a complete payload
            succeeded = bool(data)
        if succeeded:
            try:
                return pickle.loads(data)  # our own child's bytes
            except Exception:  # a truncated payload: compute it here
                pass
        return self._fn(*self._args)

    def cancel(self) -> None:
        """Stop the child, if any, and reap it; :meth:`result` must not be called afterwards."""
        if self._pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self._pid, 0)
        if self._read_fd is not None:
            os.close(self._read_fd)
            self._read_fd = None
        self._pid = None
        self._fn = _cancelled
        self._args = ()


def _cancelled() -> Any:
    raise RuntimeError("result() of a cancelled ForkedCall")

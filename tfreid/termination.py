"""SIGTERM: the signal schedulers send before they stop a job (SLURM, Kubernetes, a cloud's
pre-emption notice), answered so that no work and no temporary file is lost.

Outside training steps a SIGTERM raises `Terminated`, as Ctrl-C raises KeyboardInterrupt: the
clean-ups on the way out run (a temporary file, a SavedModel's staging directory) and the tool
exits with EXIT_STATUS. Inside the training loop (`deferred`) it only sets a flag: the loop
finishes its step, saves a checkpoint there and then raises `Terminated`, so that the same
command resumes from that step (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import types

EXIT_STATUS = 128 + signal.SIGTERM  # 143: what a shell reports for a process ended by SIGTERM


class Terminated(BaseException):
    """A SIGTERM was received. A BaseException, like KeyboardInterrupt, so that no `except
    Exception` takes it for a failure it may handle (a damaged file, an unreadable image)."""


@contextlib.contextmanager
def raising():
    """Within the block a SIGTERM raises `Terminated` in the main thread (a tool's whole run);
    the handler before is restored afterwards."""
    with _handled_by(_raise):
        yield


def _raise(signum, frame) -> None:
    raise Terminated("terminated by SIGTERM")


@contextlib.contextmanager
def deferred():
    """Within the block a SIGTERM sets `.requested` on the yielded object instead of raising;
    the handler before is restored afterwards. Signals reach the main thread only: elsewhere
    nothing changes and `.requested` stays False."""
    state = types.SimpleNamespace(requested=False)

    def note(signum, frame):
        state.requested = True

    with _handled_by(note):
        yield state


@contextlib.contextmanager
def _handled_by(handler):
    if threading.current_thread() is not threading.main_thread():
        yield  # Python delivers signals to the main thread only
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

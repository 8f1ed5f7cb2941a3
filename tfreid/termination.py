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


def raise_on_sigterm() -> None:
    """From now on a SIGTERM raises `Terminated` in the main thread (a tool's whole run)."""
    if _in_main_thread():
        signal.signal(signal.SIGTERM, _raise)


def _raise(signum, frame) -> None:
    raise Terminated("terminated by SIGTERM")


@contextlib.contextmanager
def deferred():
    """Within the block a SIGTERM sets `.requested` on the yielded object instead of raising;
    the handler before is restored afterwards. Signals reach the main thread only: elsewhere
    nothing changes and `.requested` stays False."""
    state = types.SimpleNamespace(requested=False)
    if not _in_main_thread():
        yield state
        return

    def note(signum, frame):
        state.requested = True

    previous = signal.signal(signal.SIGTERM, note)
    try:
        yield state
    finally:
        signal.signal(signal.SIGTERM, previous)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()

"""What every tool shares: one-line errors, exit statuses, quiet start-up and the common flags.

Exit 0 on success, 2 on bad arguments or config, 1 on any other failure, 143 when stopped by
SIGTERM; every failure prints one line on stderr naming what is wrong, never a traceback
(`--verbose` shows TensorFlow's start-up messages and the traceback of an unexpected error).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
import warnings
from collections.abc import Callable

from tfreid.errors import TrainingDiverged, UsageError

# Invalid inputs (a directory that is not a SavedModel, a bad id list) raise ValueError; files
# that cannot be read or written (missing, unreadable, disk full) raise OSError.
USER_ERRORS = (OSError, ValueError)
_VERBOSE = False


class ArgumentParser(argparse.ArgumentParser):
    """argparse with `--verbose` and a one-line usage error (exit 2).

    Parsing sets the verbosity of the whole process: quiet (TensorFlow's start-up lines,
    C++ log lines and Python warnings hidden) unless `--verbose` is given.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_argument(
            "--verbose",
            action="store_true",
            help="show TensorFlow's log lines, warnings and the traceback of unexpected errors",
        )

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        set_verbosity(parsed.verbose)
        return parsed


def set_verbosity(verbose: bool) -> None:
    """Quiet: TensorFlow imports with its C++ start-up lines hidden (they are printed before
    its log level applies), logs only fatal C++ errors, and Python warnings are off."""
    global _VERBOSE
    _VERBOSE = verbose
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    warnings.simplefilter("ignore")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    if "tensorflow" not in sys.modules and not any(
        isinstance(finder, _QuietImport) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _QuietImport())


class _QuietImport(importlib.abc.MetaPathFinder):
    """Imports TensorFlow (whenever a tool first needs it) with file descriptor 2 sent to
    /dev/null, so its start-up lines (oneDNN notice, CUDA probing) are not printed."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _SilencedLoader(spec.loader)
        return spec


class _SilencedLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__spec__.loader = module.__loader__ = self.loader
        with _stderr_to_devnull():
            self.loader.exec_module(module)


@contextlib.contextmanager
def _stderr_to_devnull():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def native_output_hidden():
    """A context in which native libraries' stderr lines (LiteRT's "Created TensorFlow Lite
    XNNPACK delegate" notice) are hidden, unless --verbose."""
    return contextlib.nullcontext() if _VERBOSE else _stderr_to_devnull()


def run(main: Callable[[], int | None]) -> None:
    """Runs a tool's `main`, mapping every error to one stderr line and an exit status (143
    after a SIGTERM, see `tfreid.termination`)."""
    from tfreid.config import ConfigError
    from tfreid.termination import EXIT_STATUS, Terminated, raising

    try:
        with raising():
            status = main()
    except (ConfigError, UsageError) as err:
        _fail(err, 2)
    except KeyboardInterrupt:
        _fail("interrupted", 1)
    except Terminated as err:
        _fail(err, EXIT_STATUS)
    except Exception as err:
        if isinstance(err, _failures()):
            _fail(err, 1)
        if _VERBOSE:
            raise
        from tfreid.errors import first_line

        _fail(f"unexpected {type(err).__name__}: {first_line(err)} (--verbose shows where)", 1)
    sys.exit(status or 0)


def _fail(message, status: int) -> None:
    _close_progress_bars()
    from tfreid.errors import first_line

    print(f"error: {first_line(message)}", file=sys.stderr)
    sys.exit(status)


def _close_progress_bars() -> None:
    """Closes the progress bars a failure left open: otherwise they redraw at exit, after the
    error line, which must be the last one."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ())):
        bar.close()


def load_config(path: str, overrides=()):
    """The config at `path` with `overrides`, its method and `method.params` checked too (this
    imports the method, and so TensorFlow; every other config error is found before that)."""
    from tfreid.config import ConfigError
    from tfreid.config import load_config as load

    cfg = load(path, overrides)
    from tfreid.methods import resolve

    try:
        resolve(cfg)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    return cfg


def positive_int(text: str) -> int:
    """argparse type of a count: an int of at least 1 (usage error, exit 2, otherwise)."""
    try:
        value = int(text)
    except ValueError:
        from tfreid.errors import shown

        raise argparse.ArgumentTypeError(f"expected an integer, got {shown(text)}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def checkpoint_arguments(parser) -> None:
    """--config and --checkpoint (both required) and --set: the inputs of every tool that
    works on a trained run."""
    parser.add_argument("--config", required=True, help="the run's YAML config")
    parser.add_argument("--checkpoint", required=True, help="checkpoint prefix or directory")
    set_overrides(parser)


def set_overrides(parser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override config values (YAML syntax), e.g. --set train.epochs=5 data.pad=4; "
        "repeatable",
    )


def _failures() -> tuple[type[Exception], ...]:
    """Errors reported in one line with status 1. TensorFlow's are looked up only when it was
    imported, so a tool that fails before training, e.g. on a bad config key, never pays for
    starting TensorFlow."""
    tf = sys.modules.get("tensorflow")
    op_errors = (tf.errors.OpError,) if tf is not None and hasattr(tf, "errors") else ()
    return (TrainingDiverged, *op_errors, *USER_ERRORS)

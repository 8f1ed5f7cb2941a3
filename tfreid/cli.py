"""What every tool shares: one-line errors, exit statuses and the common flags.

Exit 0 on success, 2 on bad arguments or config, 1 on any other failure; user errors print
one line on stderr naming what is wrong, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

# Invalid inputs (a directory that is not a SavedModel, a bad id list) raise ValueError.
USER_ERRORS = (FileNotFoundError, NotADirectoryError, PermissionError, ValueError)


def run(main: Callable[[], int | None]) -> None:
    """Runs a tool's `main`, mapping known errors to one stderr line and an exit status."""
    from tfreid.config import ConfigError

    try:
        status = main()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except Exception as err:
        if not isinstance(err, _failures()):
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(1)
    sys.exit(status or 0)


def load_config(path: str, overrides=()):
    """The config at `path` with `overrides`, its method and `method.params` checked too (this
    imports the method, and so TensorFlow; every other config error is found before that)."""
    from tfreid.config import load_config as load

    cfg = load(path, overrides)
    from tfreid.methods import resolve

    resolve(cfg)
    return cfg


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
    """Errors reported in one line with status 1. TrainingDiverged is looked up only when the
    training loop (the only place raising it) was imported, so a tool that fails before
    training, e.g. on a bad config key, never pays for starting TensorFlow."""
    from tfreid.data.samples import DatasetError

    loop = sys.modules.get("tfreid.training.loop")
    diverged = (loop.TrainingDiverged,) if loop is not None else ()
    return (DatasetError, *diverged, *USER_ERRORS)

"""One process of a multi-worker run (TF_CONFIG set) or of the one-process reference, for
test_multi_worker.py: trains the config's run into WORKDIR with float64 layers.

Usage: python multi_worker_script.py CONFIG WORKDIR [KILL_AFTER_EPOCH]

With KILL_AFTER_EPOCH the process kills itself (SIGKILL, no clean-up) right after that epoch's
checkpoint, as a machine that goes away does.
"""

import os
import signal
import sys

from tfreid import cli  # started by tests/tools_harness.py: this checkout's tfreid

cli.set_verbosity(False)

import keras  # noqa: E402

from tfreid.config import load_config  # noqa: E402
from tfreid.training.distribute import choose_strategy  # noqa: E402
from tfreid.training.loop import train  # noqa: E402


def main(config: str, workdir: str, kill_after: str | None = None) -> None:
    cfg = load_config(config)
    choose_strategy(cfg.runtime.strategy)  # a multi-worker strategy before any other op
    # Float64: two placements of float32 sums may round differently (tests/methods/).
    keras.config.set_dtype_policy("float64")

    def on_epoch(epoch, parts, writer):
        if kill_after is not None and epoch == int(kill_after):
            os.kill(os.getpid(), signal.SIGKILL)

    train(cfg, workdir, progress=False, on_epoch=on_epoch)


if __name__ == "__main__":
    main(*sys.argv[1:])

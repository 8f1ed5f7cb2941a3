"""One process of a multi-worker run (TF_CONFIG set) or of the one-process reference, for
test_multi_worker.py: trains the config's run into WORKDIR with float64 layers, as a tool does
(one `error:` line and exit 143 when stopped by SIGTERM).

Usage: python multi_worker_script.py CONFIG WORKDIR [kill:EPOCH | term:N]

kill:EPOCH: the process kills itself (SIGKILL, no clean-up) right after that epoch's
checkpoint, as a machine that goes away does. term:N: the process receives a SIGTERM during
the N-th step it runs (sent as that step's batch is fetched), as a pre-empted one does.
"""

import os
import signal
import sys

from tfreid import cli  # started by tests/tools_harness.py: this checkout's tfreid

cli.set_verbosity(False)

import keras  # noqa: E402

from tfreid.config import load_config  # noqa: E402
from tfreid.training import loop  # noqa: E402
from tfreid.training.distribute import choose_strategy  # noqa: E402


def main(config: str, workdir: str, event: str | None = None) -> None:
    cfg = load_config(config)
    choose_strategy(cfg.runtime.strategy)  # a multi-worker strategy before any other op
    # Float64: two placements of float32 sums may round differently (tests/methods/).
    keras.config.set_dtype_policy("float64")
    what, _, at = (event or "none:0").partition(":")
    on_epoch = None
    if what == "kill":

        def on_epoch(epoch, parts, writer):
            if epoch == int(at):
                os.kill(os.getpid(), signal.SIGKILL)

    if what == "term":
        next_batch, steps = loop._next_batch, []

        def batch_then_sigterm(iterator, samples):
            steps.append(1)
            if len(steps) == int(at):
                os.kill(os.getpid(), signal.SIGTERM)
            return next_batch(iterator, samples)

        loop._next_batch = batch_then_sigterm
    loop.train(cfg, workdir, progress=False, on_epoch=on_epoch)


if __name__ == "__main__":
    cli.run(lambda: main(*sys.argv[1:]))

"""Multi-worker training: two worker processes on localhost (MultiWorkerMirroredStrategy under
TF_CONFIG) train to the weights one process reaches on the same global batch, a run whose
worker was killed resumes from the chief's last checkpoint, and a SIGTERM to one worker stops
both at the same step, with a checkpoint there to resume from."""

import json
import os
import signal
import socket
import time

import numpy as np
import tensorflow as tf
from tools_harness import TIMEOUT, finish, start_python

from tfreid.termination import EXIT_STATUS

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "multi_worker_script.py")
EPOCHS, STEPS = 2, 2  # checkpoints at the epoch ends (steps 2 and 4) only


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def launch(config, workdir, tf_config=None, event=None):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    args = [SCRIPT, config, workdir] + ([] if event is None else [event])
    return start_python(*args, env=env)


def workers(config, workdir, event=None):
    """Two workers on free localhost ports; `event` (see multi_worker_script.py) happens to
    worker 1, which is not the chief."""
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    return [
        launch(config, workdir, {"cluster": cluster, "task": {"type": "worker", "index": i}},
               event if i == 1 else None)
        for i in range(2)
    ]  # fmt: skip


def finished(process, status=0):
    """(stdout, stderr) of `process`, which must end with `status`."""
    result = finish(process)
    assert result.returncode == status, result.stderr[-3000:]
    return result.stdout, result.stderr


def tensors(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {
        key: reader.get_tensor(key)
        for key in reader.get_variable_to_shape_map()
        if key.startswith(("net_", "optimizer_", "step"))
    }


def test_two_workers_train_as_one_process_resume_after_a_kill_and_stop_on_sigterm(
    tiny_config, sysu_root, tmp_path
):
    from tfreid.config import save_config

    overrides = ["runtime.strategy=auto", f"train.epochs={EPOCHS}",
                 f"train.steps_per_epoch={STEPS}", "train.checkpoint_every=1000",
                 "train.keep_checkpoints=10"]  # fmt: skip
    config, every_step = str(tmp_path / "config.yaml"), str(tmp_path / "every_step.yaml")
    save_config(tiny_config(sysu_root, *overrides), config)
    save_config(tiny_config(sysu_root, *overrides, "train.checkpoint_every=1"), every_step)
    single, multi = str(tmp_path / "single"), str(tmp_path / "multi")
    reference = launch(every_step, single)  # no TF_CONFIG: one device, the whole global batch
    chief, other = workers(config, multi, event="kill:1")
    finish(other)
    assert other.returncode == -signal.SIGKILL, "worker 1 should have been killed"
    checkpoints = os.path.join(multi, "checkpoints")
    deadline = time.time() + TIMEOUT  # the chief writes ckpt-2, then waits for worker 1
    while not os.path.exists(os.path.join(checkpoints, f"ckpt-{STEPS}.index")):
        assert time.time() < deadline and chief.poll() is None, "the chief wrote no ckpt-2"
        time.sleep(0.1)
    chief.kill()  # waits for worker 1 forever otherwise
    finish(chief)

    # Resumed at step 2; worker 1 gets a SIGTERM during step 3: both stop after it, and the
    # chief saves it (no checkpoint is due at step 3).
    stopped = [finished(p, EXIT_STATUS) for p in workers(config, multi, event="term:1")]
    for out, err in stopped:
        assert "resuming from" in out and "ckpt-2 (step 2 of 4)" in out
        assert err.splitlines()[-1].startswith("error: stopped by SIGTERM at step 3 of 4")
    assert os.path.exists(os.path.join(checkpoints, "ckpt-3.index"))
    assert not any(name.startswith(".worker") for name in os.listdir(checkpoints))

    outputs = [finished(process)[0] for process in workers(config, multi)]
    finished(reference)
    assert all("ckpt-3 (step 3 of 4)" in out for out in outputs)
    names = sorted(os.listdir(checkpoints))
    assert "ckpt-4.index" in names and not any(n.startswith(".worker") for n in names)
    for step in (STEPS, 3, EPOCHS * STEPS):  # before the kill, at the SIGTERM, at the end
        ours = tensors(os.path.join(checkpoints, f"ckpt-{step}"))
        theirs = tensors(os.path.join(single, "checkpoints", f"ckpt-{step}"))
        assert ours.keys() == theirs.keys() and len(ours) > 10
        for key, value in theirs.items():
            # Same arithmetic, another summation order (one process uses TensorFlow's fused
            # batch norm kernel, two workers the synchronized Keras one, and gradients are
            # summed across workers): equal to 1e-3 of each tensor's scale. Another batch
            # split or a lost step differs by the scale itself.
            scale = max(float(np.abs(value).max()), 1e-12)
            np.testing.assert_allclose(ours[key], value, rtol=0, atol=1e-3 * scale, err_msg=key)

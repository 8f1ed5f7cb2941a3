"""Multi-worker training: two worker processes on localhost (MultiWorkerMirroredStrategy under
TF_CONFIG) train to the weights one process reaches on the same global batch, and a run whose
worker was killed resumes from the chief's last checkpoint."""

import json
import os
import signal
import socket
import time

import numpy as np
import tensorflow as tf
from tools_harness import TIMEOUT, finish, start_python

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "multi_worker_script.py")
EPOCHS = 4  # of one step each; checkpoints after every step


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def launch(config, workdir, tf_config=None, kill_after=None):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    args = [SCRIPT, config, workdir] + ([] if kill_after is None else [str(kill_after)])
    return start_python(*args, env=env)


def workers(config, workdir, kill_after=None):
    """Two workers on free localhost ports; worker 1 (not the chief) killed after an epoch."""
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    return [
        launch(config, workdir, {"cluster": cluster, "task": {"type": "worker", "index": i}},
               kill_after if i == 1 else None)
        for i in range(2)
    ]  # fmt: skip


def succeed(process):
    result = finish(process)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def tensors(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {
        key: reader.get_tensor(key)
        for key in reader.get_variable_to_shape_map()
        if key.startswith(("net_", "optimizer_", "step"))
    }


def test_two_workers_train_as_one_process_and_resume_after_a_worker_is_killed(
    tiny_config, sysu_root, tmp_path
):
    from tfreid.config import save_config

    cfg = tiny_config(
        sysu_root,
        "runtime.strategy=auto",
        f"train.epochs={EPOCHS}",
        "train.steps_per_epoch=1",
        "train.checkpoint_every=1",
        f"train.keep_checkpoints={EPOCHS}",
    )
    config = str(tmp_path / "config.yaml")
    save_config(cfg, config)
    single, multi = str(tmp_path / "single"), str(tmp_path / "multi")
    reference = launch(config, single)  # no TF_CONFIG: one device, the whole global batch
    chief, other = workers(config, multi, kill_after=2)
    finish(other)
    assert other.returncode == -signal.SIGKILL, "worker 1 should have been killed"
    checkpoints = os.path.join(multi, "checkpoints")
    deadline = time.time() + TIMEOUT  # the chief writes ckpt-2, then waits for worker 1
    while not os.path.exists(os.path.join(checkpoints, "ckpt-2.index")):
        assert time.time() < deadline and chief.poll() is None, "the chief wrote no ckpt-2"
        time.sleep(0.1)
    chief.kill()  # waits for worker 1 forever otherwise
    finish(chief)

    outputs = [succeed(process) for process in workers(config, multi)]
    succeed(reference)
    assert all("resuming from" in out and "ckpt-2 (step 2 of 4)" in out for out in outputs)
    names = sorted(os.listdir(checkpoints))
    assert "ckpt-4.index" in names and not any(n.startswith(".worker") for n in names)
    for step in (2, EPOCHS):  # before the kill, and after the resumption
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

"""Importing tfreid under another Keras backend fails at once with a clear message."""

import os
import subprocess
import sys


def test_non_tensorflow_backend_fails_fast():
    env = dict(os.environ, KERAS_BACKEND="jax")
    result = subprocess.run(
        [sys.executable, "-c", "import tfreid"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "tfreid needs the TensorFlow Keras backend" in result.stderr
    assert "'jax'" in result.stderr


def test_tensorflow_backend_imports():
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    result = subprocess.run(
        [sys.executable, "-c", "import tfreid; print(tfreid.__version__)"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr

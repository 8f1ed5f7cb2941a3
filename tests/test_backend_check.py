"""Importing tfreid under another Keras backend fails at once with a clear message."""

import os

from tools_harness import run_python


def test_non_tensorflow_backend_fails_fast():
    result = run_python("-c", "import tfreid", env=dict(os.environ, KERAS_BACKEND="jax"))
    assert result.returncode != 0
    assert "tfreid needs the TensorFlow Keras backend" in result.stderr
    assert "'jax'" in result.stderr


def test_tensorflow_backend_imports():
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    result = run_python("-c", "import tfreid; print(tfreid.__version__)", env=env)
    assert result.returncode == 0, result.stderr

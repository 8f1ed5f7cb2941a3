"""What `train.mixed_precision: auto` means: $TFREID_AUTO_PRECISION when set, else bfloat16
where the machine computes it natively."""

import os

import pytest
import tensorflow as tf
from tools_harness import assert_one_line_error, run

from tfreid.errors import ConfigError
from tfreid.training import precision


@pytest.mark.parametrize("value", ["none", "bfloat16"])
def test_the_environment_says_what_auto_means(monkeypatch, value):
    monkeypatch.setenv(precision.AUTO_ENV, value)
    assert precision.resolve("auto") == value
    assert precision.resolve("float16") == "float16"  # an explicit choice is kept


def test_without_the_environment_auto_follows_the_hardware(monkeypatch):
    monkeypatch.delenv(precision.AUTO_ENV)
    for native, expected in ((True, "bfloat16"), (False, "none")):
        monkeypatch.setattr(precision, "native_bfloat16", lambda native=native: native)
        assert precision.resolve("auto") == expected


@pytest.mark.parametrize(
    "flags, cap, native",
    [
        ("avx512f avx512_bf16", None, True),
        ("avx512f amx_bf16 amx_tile", None, True),
        ("avx512f avx512_vnni", None, False),
        ("avx512f avx512_bf16", "AVX512_CORE_BF16", True),
        # oneDNN's kernels see no bfloat16 under these caps (under AVX2 its bfloat16
        # convolution fails: "could not create a primitive descriptor"); it reads any case.
        ("avx512f avx512_bf16", "AVX2", False),
        ("avx512f amx_bf16", "avx512_core", False),
    ],
)
def test_the_cpu_computes_bfloat16_by_its_flags_and_onednn_cap(
    monkeypatch, tmp_path, flags, cap, native
):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: fpu sse2 avx2 {flags}\n")
    monkeypatch.setattr(precision, "CPUINFO", str(cpuinfo))
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind: [])
    if cap is None:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    else:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    assert precision.native_bfloat16() is native


def test_a_bad_value_is_named(monkeypatch):
    monkeypatch.setenv(precision.AUTO_ENV, "fast")
    with pytest.raises(ConfigError, match="TFREID_AUTO_PRECISION='fast'.*none, bfloat16"):
        precision.resolve("auto")
    assert precision.resolve("none") == "none"  # read only for "auto"


def test_train_refuses_a_bad_value_before_writing_anything(tmp_path):
    root, workdir = tmp_path / "data", tmp_path / "run"
    config = tmp_path / "run.yaml"
    config.write_text(f"data: {{root: {root}, synthetic_ids: 4}}\n")
    env = dict(os.environ, TFREID_AUTO_PRECISION="fast")
    result = run("train", "--config", str(config), "--workdir", str(workdir), env=env)
    assert_one_line_error(result, 2, "TFREID_AUTO_PRECISION='fast'")
    assert not root.exists() and not workdir.exists()

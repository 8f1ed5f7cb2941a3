"""Every shipped YAML config loads strictly, passes its method's check and describes a model
that builds."""

import glob
import os

import pytest

from tfreid.config import load_config
from tfreid.methods import METHODS, resolve
from tfreid.models.structures import build_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(REPO, "yaml_configs", "**", "*.yaml"), recursive=True))


def test_configs_exist_for_both_data_sets():
    names = {os.path.relpath(p, os.path.join(REPO, "yaml_configs")) for p in CONFIGS}
    for dataset in ("sysu", "regdb"):
        for method in ("one_stream", "two_stream", "asymmetric_fc", "zero_padding"):
            assert f"{dataset}/iccv_{method}.yaml" in names
        for network in ("resmid", "mgn", "pcb", "bfe", "mlfn"):
            assert f"{dataset}/hpiln_{network}.yaml" in names
    assert "quickstart.yaml" in names
    for method in ("baseline", "base_derivative", "ijcv_mge_fmsp", "hpiln_bfe", "tsgan_teacher"):
        assert f"llcm/{method}.yaml" in names
    assert "llcm/tsgan.yaml" in names


def test_every_setting_is_evaluated_unless_a_config_says_why():
    """No config quietly drops a SYSU-MM01 mode or shot; the teacher tests IR -> IR only."""
    for path in CONFIGS:
        cfg = load_config(path)
        if cfg.eval is None or cfg.data.dataset != "sysu":
            continue
        assert (cfg.eval.modes, cfg.eval.shots) == (["all", "indoor"], [1, 10]), path
        assert cfg.eval.cross_modality or path.endswith("tsgan_teacher.yaml"), path
    teacher = load_config(os.path.join(REPO, "yaml_configs", "sysu", "tsgan_teacher.yaml"))
    assert teacher.eval.single_modality == ["ir_to_ir"]


def test_the_configs_train_every_method():
    assert {load_config(path).method.name for path in CONFIGS} == set(METHODS)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: os.path.relpath(p, REPO))
def test_config_loads_and_its_model_builds(path):
    cfg = load_config(path, ["data.height=64", "data.width=32"])
    assert cfg.data.dataset in os.path.relpath(path, REPO) or "quickstart" in path
    method, _ = resolve(cfg)  # method.params and the method's check
    assert method is METHODS[cfg.method.name]
    if cfg.model.backbone == "resnet6":  # ResNet-50 builds are covered by the model tests
        model = build_model(cfg, num_classes=4)
        assert model.count_params() > 0

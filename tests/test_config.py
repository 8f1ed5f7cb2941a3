"""Config strictness, overrides, method params and the save/load round trip."""

import dataclasses
import types

import pytest

from tfreid import config as config_lib
from tfreid.config import ConfigError, load_config, method_params, save_config


@dataclasses.dataclass
class FakeParams:
    weight: float = 1.0
    focal: bool = True


@pytest.fixture(autouse=True)
def fake_methods(monkeypatch):
    import tfreid.methods

    methods = dict(tfreid.methods.METHODS)
    methods["fake"] = types.SimpleNamespace(Params=FakeParams)
    monkeypatch.setattr(tfreid.methods, "METHODS", methods)


def write(tmp_path, text):
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return str(path)


def test_yaml_values_override_defaults(tmp_path):
    cfg = load_config(
        write(tmp_path, "data:\n  height: 64\n  mean: [0, 0.5, 1]\nmethod:\n  name: fake\n")
    )
    assert cfg.data.height == 64 and cfg.data.width == 144
    assert cfg.data.mean == [0.0, 0.5, 1.0] and isinstance(cfg.data.mean[0], float)


@pytest.mark.parametrize(
    "text, message",
    [
        ("data:\n  hieght: 3\n", r"unknown config key 'data.hieght'; did you mean 'data.height'\?"),
        ("modle: {}\n", r"unknown config key 'modle'; did you mean 'model'\?"),
        ("data:\n  height: tall\n", r"data.height: got 'tall' \(str\), expected int"),
        ("data:\n  flip: 1\n", r"data.flip: got 1 \(int\), expected bool"),
        ("eval:\n  distance: l1\n", r"eval.distance: got 'l1' .*one of 'cosine', 'euclidean'"),
        ("data:\n  mean: [0, x, 1]\n", r"data.mean\[1\]: got 'x' \(str\), expected float"),
        ("data: 3\n", r"data: got 3, expected a mapping"),
        ("data: [\n", r"is not valid YAML"),
        ("method:\n  name: nope\n", r"method.name: unknown method 'nope' \(valid: .*fake"),
        ("method:\n  name: fake\n  params: {wieght: 2}\n", r"'method.params.wieght'; did you mean"),
        ("method:\n  name: fake\n  params: {focal: 0.5}\n", r"method.params.focal: got 0.5"),
    ],
)
def test_bad_config_errors_name_key_value_and_expectation(tmp_path, text, message):
    path = write(tmp_path, "method:\n  name: fake\n" + text if "method" not in text else text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert path in str(info.value) or "method" in message


def test_missing_file_and_non_mapping_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_config(write(tmp_path, "- 1\n"))
    with pytest.raises(ConfigError, match="nope.yaml does not exist"):
        load_config(str(tmp_path / "nope.yaml"))


def test_overrides_parse_yaml_scalars_and_lists(tmp_path):
    path = write(tmp_path, "method:\n  name: fake\n")
    cfg = load_config(
        path,
        [
            "data.root=/data/sysu",
            "train.epochs=3",
            "optimizer.learning_rate=1e-3",
            "eval.modes=[all]",
            "model.pretrained_weights=null",
            "method.params.weight=10",
        ],
    )
    assert cfg.data.root == "/data/sysu" and cfg.train.epochs == 3
    assert cfg.optimizer.learning_rate == pytest.approx(1e-3)
    assert cfg.eval.modes == ["all"] and cfg.model.pretrained_weights is None
    assert method_params(cfg) == FakeParams(weight=10.0)
    with pytest.raises(ConfigError, match="expected key.path=value"):
        load_config(path, ["train.epochs"])
    with pytest.raises(ConfigError, match="unknown config key 'train.epoch'"):
        load_config(path, ["train.epoch=3"])
    with pytest.raises(ConfigError, match=r"data.root: got {'x': 3} \(dict\), expected str"):
        load_config(path, ["data.root.x=3"])


def test_eval_section_can_be_switched_off(tmp_path):
    cfg = load_config(write(tmp_path, "method:\n  name: fake\neval: null\n"))
    assert cfg.eval is None


def test_save_and_reload_is_unchanged(tmp_path):
    cfg = load_config(
        write(tmp_path, "method:\n  name: fake\n  params: {weight: 3}\n"),
        ["data.height=32", "eval.shots=[1]", "data.synthetic_ids=20"],
    )
    out = str(tmp_path / "run" / "config.yaml")
    save_config(cfg, out)
    assert load_config(out) == cfg
    assert config_lib.to_dict(load_config(out)) == config_lib.to_dict(cfg)

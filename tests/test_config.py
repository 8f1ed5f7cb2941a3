"""Config strictness, load-time range checks, overrides and the save/load round trip."""

from re import escape

import pytest
from tools_harness import REPO, run_python

from tfreid import config as config_lib
from tfreid.config import NUM_TRIALS, ConfigError, load_config, save_config


def write(tmp_path, text):
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return str(path)


def test_yaml_values_override_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "data:\n  height: 64\n  mean: [0, 0.5, 1]\n"))
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
        ("data:\n  height: 3\n  height: 4\n", r"not valid YAML: .*key 'height' is written twice"),
    ],
)
def test_bad_config_errors_name_key_value_and_expectation(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert path in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.height=0", r"data.height: got 0, expected a value in \[8, 4096\]"),
        ("data.pad=-1", r"data.pad: got -1, expected a value >= 0"),
        ("data.erasing_prob=1.5", r"data.erasing_prob: got 1.5, expected a value in \[0.0, 1.0\]"),
        ("data.identities_per_batch=0", r"data.identities_per_batch: got 0"),
        (
            "data.regdb_trial=11",
            rf"data.regdb_trial: got 11, expected a value in \[1, {NUM_TRIALS}\]",
        ),
        ("model.dropout=1", r"model.dropout: got 1.0, expected a value in \[0.0, 1.0\)"),
        ("model.last_stride=3", r"model.last_stride: got 3 .*one of 1, 2"),
        ("optimizer.learning_rate=-1", r"optimizer.learning_rate: got -1.0, expected a value > 0"),
        ("optimizer.milestones=[40, 20]", r"optimizer.milestones: expected increasing epochs"),
        ("train.epochs=0", r"train.epochs: got 0, expected a value >= 1"),
        ("train.steps_per_epoch=-2", r"train.steps_per_epoch: got -2"),
        ("train.log_every=0", r"train.log_every: got 0"),
        ("train.checkpoint_every=0", r"train.checkpoint_every: got 0"),
        ("eval.modes=[al]", r"eval.modes\[0\]: got 'al' .*one of 'all', 'indoor'"),
        ("eval.modes=[all, all]", r"eval.modes: expected distinct values"),
        ("eval.shots=[]", r"eval.shots: expected distinct values, at least one"),
        ("eval.shots=[5]", r"eval.shots\[0\]: got 5 .*one of 1, 10"),
        ("eval.trials=11", r"eval.trials: got 11"),
        ("eval.max_rank=10", r"eval.max_rank: got 10, expected a value >= 20"),
        ("eval.protocol=official", r"eval.permutation_file: eval.protocol is 'official'"),
        ("eval.permutation_file=x.mat", r"eval.permutation_file is set .* 'seeded'"),
    ],
)
def test_values_out_of_range_are_named_when_the_config_loads(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["data.dataset=regdb", "train.eval_every=5"],
            r"train.eval_every: RegDB has no validation ids",
        ),
        (
            ["train.eval_every=1"],  # SYSU-MM01 on train + val by default
            r"^data.train_ids: train.eval_every validates on SYSU-MM01's val ids, which "
            r"train_val trains on; set data.train_ids=train \(296 ids\) or train.eval_every=0$",
        ),
        (
            ["data.dataset=regdb", "data.train_ids=train"],
            r"^data.train_ids: selects SYSU-MM01's training ids; regdb has its own training "
            r"split, so leave it at 'train_val' \(got 'train'\)$",
        ),
        (
            ["data.dataset=llcm", "train.eval_every=5"],
            r"train.eval_every: LLCM has no validation ids",
        ),
        (
            ["optimizer.backbone_lr_scale=0.1", "train.mixed_precision=float16"],
            r"optimizer.backbone_lr_scale != 1 .* train.mixed_precision=float16",
        ),
        (["eval.single_modality=[ir_to_ir, ir_to_ir]"], r"eval.single_modality: expected distinct"),
        (["eval.cross_modality=false"], r"eval.cross_modality: false leaves nothing to evaluate"),
    ],
)
def test_settings_that_contradict_each_other_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


@pytest.mark.parametrize(
    "dataset, key, overrides",
    [
        ("llcm", "data.regdb_trial", ["data.regdb_trial=3"]),
        ("sysu", "data.regdb_trial", ["data.regdb_trial=3"]),
        ("llcm", "eval.modes", ["eval.modes=[all]"]),
        ("llcm", "eval.shots", ["eval.shots=[1]"]),
        ("llcm", "eval.protocol", ["eval.protocol=official", "eval.permutation_file=p.mat"]),
        ("regdb", "eval.single_modality", ["eval.single_modality=[ir_to_ir]"]),
        (
            "llcm",
            "eval.cross_modality",
            ["eval.cross_modality=false", "eval.single_modality=[ir_to_ir]"],
        ),
    ],
)
def test_a_key_of_another_data_set_is_refused_naming_it(dataset, key, overrides):
    with pytest.raises(ConfigError, match=rf"^{key}: applies to \w+ only, but data.dataset is "):
        load_config(None, [f"data.dataset={dataset}", *overrides])


def test_the_llcm_and_single_modality_settings_load():
    cfg = load_config(None, ["data.dataset=llcm", "eval.trials=3"])
    assert cfg.data.dataset == "llcm" and cfg.eval.trials == 3
    cfg = load_config(None, ["eval.cross_modality=false", "eval.single_modality=[ir_to_ir]"])
    assert cfg.eval.single_modality == ["ir_to_ir"] and not cfg.eval.cross_modality


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["model.structure=two_stream", "model.backbone=gated_resnet50"],
            r"^model.backbone: model.structure two_stream .*plain backbone .* got gated_resnet50$",
        ),
        (
            ["model.structure=two_stream", "model.backbone=gated_resnet50_torchvision"],
            r"^model.backbone: model.structure two_stream .* got gated_resnet50_torchvision$",
        ),
        (
            ["model.structure=asymmetric_fc", "model.head=bnneck"],
            r"^model.head: bnneck has no feature layer for model.structure asymmetric_fc",
        ),
        (
            ["model.structure=two_stream", "model.backbone=resnet6", "model.specific_stages=7"],
            r"^model.specific_stages: model.backbone resnet6 has 7 stages, so two_stream takes "
            r"1..6 specific ones; got 7$",
        ),
        (
            ["model.structure=two_stream", "model.specific_stages=5"],
            r"^model.specific_stages: model.backbone resnet50 has 5 stages, .* 1..4 .* got 5$",
        ),
    ],
)
def test_structures_refuse_what_they_cannot_build(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


def test_the_structures_take_what_they_can_build():
    """The limits above are the only ones: the last specific stage, bnneck on one stream."""
    two_stream = ["model.structure=two_stream", "model.backbone=resnet6"]
    assert load_config(None, [*two_stream, "model.specific_stages=6"]).model.specific_stages == 6
    cfg = load_config(None, ["model.backbone=gated_resnet50", "model.head=bnneck"])
    assert (cfg.model.backbone, cfg.model.head) == ("gated_resnet50", "bnneck")


NETWORK_IGNORES = [
    ("mgn", "head", "pcb"),
    ("mgn", "last_stride", "1"),
    ("resmid", "feature_dim", "512"),
    ("bfe", "stripes", "3"),
    ("mlfn", "bnneck_embedding", "pooled"),
    ("mgn", "dropout", "0.5"),
    ("pcb_p6", "bfe_embedding", "concat"),
    (None, "bfe_embedding", "concat"),
]


@pytest.mark.parametrize("network, key, value", NETWORK_IGNORES)
def test_a_knob_the_chosen_network_does_not_read_is_refused_naming_both(network, key, value):
    overrides = [f"model.{key}={value}"]
    if network is not None:
        overrides.append(f"model.network={network}")
    chosen = network or "null"
    message = rf"^model.{key}: only model.network .* reads it, but model.network is {chosen}; "
    with pytest.raises(ConfigError, match=message + r"leave it at its default \(.*\), got"):
        load_config(None, overrides)


STRUCTURE_IGNORES = [
    ("structure", "one_stream", "specific_stages", "3"),
    ("structure", "asymmetric_fc", "specific_stages", "1"),
    ("head", "bnneck", "feature_dim", "512"),
    ("head", "bnneck", "dropout", "0.5"),
    ("head", "fc", "stripes", "4"),
    ("head", "bnneck", "stripes", "4"),
    ("head", "fc", "bnneck_embedding", "pooled"),
    ("head", "pcb", "bnneck_embedding", "pooled"),
]


@pytest.mark.parametrize("chooser, chosen, key, value", STRUCTURE_IGNORES)
def test_a_knob_the_chosen_head_or_structure_does_not_read_is_refused(chooser, chosen, key, value):
    overrides = [f"model.{chooser}={chosen}", f"model.{key}={value}"]
    message = rf"^model.{key}: only model.{chooser} .* reads it, but model.{chooser} is {chosen}; "
    with pytest.raises(ConfigError, match=message + r"leave it at its default \(.*\), got"):
        load_config(None, overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        ["model.structure=two_stream", "model.backbone=resnet6", "model.specific_stages=3"],
        ["model.head=pcb", "model.stripes=4", "model.feature_dim=64", "model.dropout=0.5"],
        ["model.head=fc", "model.feature_dim=64", "model.dropout=0.5"],
        ["model.head=bnneck", "model.bnneck_embedding=pooled"],
        ["model.head=bnneck", "model.stripes=6", "model.feature_dim=256"],  # the defaults
    ],
)
def test_a_head_or_structure_takes_the_knobs_it_reads(overrides):
    model = load_config(None, overrides).model
    for override in overrides:
        key, value = override.removeprefix("model.").split("=")
        assert str(getattr(model, key)) == value


def test_a_network_takes_the_knobs_it_reads():
    assert load_config(None, ["model.network=pcb_p6", "model.dropout=0.5"]).model.dropout == 0.5
    bfe = load_config(None, ["model.network=bfe", "model.bfe_embedding=concat"]).model
    assert bfe.bfe_embedding == "concat"
    # Set to their defaults the knobs a network does not read load (a saved config has them).
    assert load_config(None, ["model.network=mgn", "model.last_stride=2"]).model.network == "mgn"


@pytest.mark.parametrize(
    "overrides",
    [
        ["data.train_ids=train", "train.eval_every=1"],  # validates on held-out ids
        ["train.eval_every=1", "train.select_on_test=true"],  # chooses on the test split
        ["train.eval_every=1", "eval=null"],  # nothing to validate with
    ],
)
def test_sysu_validation_is_allowed_where_it_does_not_see_training_ids(overrides):
    cfg = load_config(None, overrides)
    assert cfg.train.eval_every == 1


@pytest.mark.parametrize(
    "override, new",
    [
        ("data.num_identities=8", "data.identities_per_batch"),
        ("data.num_instances=4", "data.images_per_identity"),
        ("eval.flip=true", "eval.flip_average"),
        ("eval.regdb_trials=[1]", "data.regdb_trial"),
        ("method.params.backbone_lr_scale=0.1", "optimizer.backbone_lr_scale"),
    ],
)
def test_renamed_keys_name_their_new_place(override, new):
    with pytest.raises(ConfigError, match=f"'{override.split('=')[0]}' is now {new}"):
        load_config(None, [override])


def test_missing_file_and_non_mapping_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_config(write(tmp_path, "- 1\n"))
    with pytest.raises(ConfigError, match="nope.yaml does not exist"):
        load_config(str(tmp_path / "nope.yaml"))


def test_overrides_parse_yaml_scalars_and_lists(tmp_path):
    path = write(tmp_path, "method:\n  name: fmsp\n")
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
    assert cfg.method.params == {"weight": 10}  # the method's own Params parse it
    with pytest.raises(ConfigError, match="expected key.path=value"):
        load_config(path, ["train.epochs"])
    with pytest.raises(ConfigError, match="unknown config key 'train.epoch'"):
        load_config(path, ["train.epoch=3"])
    with pytest.raises(ConfigError, match=r"data.root: got {'x': 3} \(dict\), expected str"):
        load_config(path, ["data.root.x=3"])


def test_eval_section_can_be_switched_off(tmp_path):
    assert load_config(write(tmp_path, "eval: null\n")).eval is None


def test_save_and_reload_is_unchanged(tmp_path):
    cfg = load_config(
        write(tmp_path, "method:\n  name: fmsp\n  params: {weight: 3}\n"),
        ["data.height=32", "eval.shots=[1]", "data.synthetic_ids=20"],
    )
    out = str(tmp_path / "run" / "config.yaml")
    save_config(cfg, out)
    assert load_config(out) == cfg
    assert config_lib.to_dict(load_config(out)) == config_lib.to_dict(cfg)


def test_loading_a_config_starts_no_tensorflow():
    """A config error costs no TensorFlow start-up: config.py is a leaf."""
    code = (
        "import sys; from tfreid.config import load_config; "
        "load_config('yaml_configs/quickstart.yaml'); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    result = run_python("-c", code, cwd=REPO)
    assert result.returncode == 0, result.stderr


def test_trial_count_agrees_with_the_readers():
    from tfreid.data import regdb, sysu

    assert NUM_TRIALS == sysu.NUM_TRIALS == regdb.NUM_TRIALS


def _bounded_fields(cls, prefix):
    """(key path, Bounds) of every range-checked field of dataclass `cls`."""
    import dataclasses

    return [
        (f"{prefix}.{f.name}", f.metadata["bounds"])
        for f in dataclasses.fields(cls)
        if "bounds" in f.metadata
    ]


def _outside(bounds):
    """Values just outside `bounds` (below and above, where bounded)."""
    values = []
    if bounds.low is not None:
        values.append(bounds.low if bounds.open_low else bounds.low - 1)
    if bounds.high is not None:
        values.append(bounds.high if bounds.open_high else bounds.high + 1)
    return values


SECTIONS = {
    "data": config_lib.DataConfig,
    "model": config_lib.ModelConfig,
    "optimizer": config_lib.OptimizerConfig,
    "train": config_lib.TrainConfig,
    "eval": config_lib.EvalConfig,
}
CONFIG_BOUNDS = [case for name, cls in SECTIONS.items() for case in _bounded_fields(cls, name)]


@pytest.mark.parametrize("key,bounds", CONFIG_BOUNDS, ids=[key for key, _ in CONFIG_BOUNDS])
def test_every_bounded_value_is_checked_with_its_key_and_range(key, bounds):
    for value in _outside(bounds):
        with pytest.raises(
            ConfigError, match=rf"^{key}: got .*, expected a value {escape(str(bounds))}"
        ):
            load_config(None, [f"{key}={value}"])


def test_every_method_checks_the_range_of_its_params():
    """Each bounded field of each method's Params, set just outside its range, is refused when
    the method is resolved, naming method.params.<key>."""
    from tfreid.methods import METHODS, resolve

    checked = 0
    for name, module in METHODS.items():
        for key, bounds in _bounded_fields(module.Params, "method.params"):
            for value in _outside(bounds):
                cfg = load_config(None, [f"method.name={name}", f"{key}={value}"])
                with pytest.raises(ConfigError, match=rf"^{key}: got .*expected a value"):
                    resolve(cfg)
                checked += 1
    assert checked >= len(METHODS)


@pytest.mark.parametrize(
    "override",
    ["optimizer.learning_rate=.inf", "data.erasing_prob=.nan", "data.mean=[.nan, 0, 0]",
     "optimizer.gamma=-.inf", "optimizer.weight_decay=1e999"],
)  # fmt: skip
def test_non_finite_numbers_are_refused(override):
    key = override.split("=")[0]
    with pytest.raises(ConfigError, match=rf"^{key}(\[0\])?: got .*, expected a finite number"):
        load_config(None, [override])


def test_a_key_written_twice_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="key 'epochs' is written twice"):
        load_config(write(tmp_path, "train:\n  epochs: 3\n  epochs: 4\n"))
    with pytest.raises(ConfigError, match="key 'train' is written twice"):
        load_config(write(tmp_path, "train: {epochs: 3}\ntrain: {epochs: 4}\n"))


def alias_bomb(levels=9):
    """A "billion laughs" config: a few hundred bytes whose aliases expand to 9**levels
    strings."""
    lines = ['    a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"    a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "method:\n  params:\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text, message",
    [
        (alias_bomb(), "more than 10,000 values once aliases are expanded"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 32 levels"),
        ("".join("  " * i + f"k{i}:\n" for i in range(40)), "nested deeper than 32 levels"),
        ("a: &x [[[1]]]\nb: " + "[" * 29 + "*x" + "]" * 29 + "\n", "32 levels through aliases"),
        ("a: &a [*a]\n", "an alias refers to a node that contains it"),
        ("[data, model]: 1\n", "a key must be a name (a string), got a list at line 1"),
        ("data:\n  {height: 3}: 1\n", "a key must be a name (a string), got a mapping at line 2"),
        ("data:\n  1: 2\n", "a key must be a name (a string), got 1 at line 2"),
    ],
)
def test_a_config_that_would_exhaust_the_tool_is_refused_in_one_short_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    line = str(info.value)
    assert line.startswith(f"config file {path}: ") and message in line, line
    assert "\n" not in line and len(line) < 300


def test_a_config_file_larger_than_the_limit_is_refused_unread(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as f:
        f.write(b"data: {height: 64}\n# " + b"x" * (50 * 2**20) + b"\n")  # 50 MB
    with pytest.raises(ConfigError, match=escape(f"config file {path} is larger than 64 KB")):
        load_config(str(path))


def test_aliases_and_merge_keys_within_the_bounds_work(tmp_path):
    text = "data: &d {height: 64, width: 32}\nmodel: {feature_dim: 8}\neval: {modes: &m [all]}\n"
    cfg = load_config(write(tmp_path, text))
    assert (cfg.data.height, cfg.data.width, cfg.eval.modes) == (64, 32, ["all"])
    merged = "defaults: &d {epochs: 3, seed: 1}\n"  # a merge key (<<) in a raw mapping
    values = config_lib.read_yaml(write(tmp_path, merged + "train:\n  <<: *d\n  seed: 2\n"))
    assert values["train"] == {"epochs": 3, "seed": 2}


@pytest.mark.parametrize(
    "override, message",
    [
        ("method.params={b: " + "[" * 40 + "]" * 40 + "}", "nested deeper than 32 levels"),
        ("method.params={[a]: 1}", "a key must be a name (a string), got a list"),
        ("method" + ".x" * 40 + "=1", "longer or deeper than a config may be"),
        ("data.root=" + "x" * 70000, "longer or deeper than a config may be"),
    ],
)  # fmt: skip
def test_overrides_are_bounded_as_config_files_are(override, message):
    with pytest.raises(ConfigError, match=escape(message)) as info:
        load_config(None, [override])
    assert len(str(info.value)) < 400


def test_an_alias_bomb_in_an_override_is_refused():
    flow = "{a0: &a0 [x, x, x, x, x, x, x, x, x]"
    for i in range(1, 9):
        flow += f", a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]"
    with pytest.raises(ConfigError, match="more than 10,000 values once aliases are expanded"):
        load_config(None, [f"method.params={flow}}}"])


def test_error_lines_show_long_values_shortened(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(None, ["data.mean=[" + ", ".join(["0.5"] * 3000) + "]"])
    assert "0.5, 0.5" in str(info.value) and len(str(info.value)) < 300
    with pytest.raises(ConfigError) as info:
        load_config(None, ["data.root=[" + ", ".join(["abc"] * 3000) + "]"])
    assert "data.root: got ['abc'," in str(info.value) and len(str(info.value)) < 300

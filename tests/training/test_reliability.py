"""The tools against hostile but fair inputs: every failure ends in one `error:` line naming the
file, key or value (exit 2 for arguments and config, 1 otherwise), and nothing the user had is
lost or changed. Hostile inputs: configs that would exhaust the reader, special files and odd
names in a data set, a decompression bomb, a folder that is not a work dir. Crash cases: kill -9
during training, export and synthetic generation, a damaged latest checkpoint, a full disk;
SIGTERM during training, and a second run on a work dir in use.

One short training run (tools/train.py) is shared; the independent cases then run as one batch
of concurrent tool processes (`outcomes`), each test asserting on its own case.
"""

import concurrent.futures
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tools_harness import assert_one_line_error, finish, last_line, start

from tfreid.termination import EXIT_STATUS
from tfreid.training.workdir import LOCK, MARKER

CONCURRENT = 4  # tool processes at once: their start-ups overlap, the machine is not swamped
TINY = """
data: {{dataset: sysu, root: {root}, height: 32, width: 16, pad: 2, identities_per_batch: 2,
       images_per_identity: 2}}
model: {{backbone: resnet6, feature_dim: 16}}
train: {{epochs: 1, steps_per_epoch: 2, log_every: 1, checkpoint_every: 1}}
eval: {{trials: 1, modes: [all], shots: [1]}}
runtime: {{strategy: one_device}}
"""


@pytest.fixture(scope="module")
def base(sysu_root, tmp_path_factory):
    """(directory, config path, trained work dir) of a 2-step run with ckpt-1 and ckpt-2."""
    directory = tmp_path_factory.mktemp("reliability")
    config = directory / "tiny.yaml"
    config.write_text(TINY.format(root=sysu_root))
    workdir = directory / "run"
    result = finish(start("train", "--config", str(config), "--workdir", str(workdir)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert not any(noise in result.stderr for noise in ("I0000", "absl::InitializeLog"))
    return directory, str(config), str(workdir)


def copy_tree(src, dst):
    shutil.copytree(src, dst, symlinks=True)
    return str(dst)


def ids(root, split):
    with open(os.path.join(root, "exp", f"{split}_id.txt")) as f:
        return [int(token) for token in f.read().split(",")]


def write_ids(root, split, values):
    with open(os.path.join(root, "exp", f"{split}_id.txt"), "w") as f:
        f.write(",".join(map(str, values)))


def an_image(root, split):
    """The first image of the first id of `split` (an IR image for the test split)."""
    pid = ids(root, split)[0]
    cameras = (3, 6) if split == "test" else (1, 2, 3, 4, 5, 6)
    for camera in cameras:
        folder = os.path.join(root, f"cam{camera}", f"{pid:04d}")
        if os.path.isdir(folder):
            return os.path.join(folder, sorted(os.listdir(folder))[0])
    raise AssertionError(f"id {pid} has no image")


def make_tiff(path):
    with Image.open(path) as image:
        image.convert("RGB").save(path, format="TIFF")


def truncate(path):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])


def dangle(path):
    os.remove(path)
    os.symlink(path + ".gone", path)


def make_directory(path):
    os.remove(path)
    os.makedirs(path)


def loop(path):
    os.remove(path)
    os.symlink(path, path)


def write_png_bomb(path, side=12000):
    """A single-colour side x side grayscale PNG: a few hundred KB that decode to side**2
    bytes (a "decompression bomb")."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    compressor = zlib.compressobj(9)
    row = b"\0" * (side + 1)  # the filter byte, then the pixels
    pixels = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels))
        f.write(chunk(b"IEND", b""))


def person_folder(root, split, camera=1):
    return os.path.join(root, f"cam{camera}", f"{ids(root, split)[0]:04d}")


def special_files(folder):
    """A FIFO, a character device that never ends (as /dev/zero) and a file whose name is not
    UTF-8 in `folder`, all named .jpg; the paths made (the device only where allowed)."""
    made = [os.path.join(folder, "fifo.jpg")]
    os.mkfifo(made[0])
    try:
        os.mknod(os.path.join(folder, "zero.jpg"), stat.S_IFCHR | 0o644, os.makedev(1, 5))
        made.append(os.path.join(folder, "zero.jpg"))
    except PermissionError:
        pass
    odd = os.fsdecode(os.fsencode(folder) + b"/caf\xe9.jpg")
    shutil.copy(os.path.join(folder, sorted(os.listdir(folder))[0]), odd)
    return made + [odd]


def alias_bomb():
    lines = ['  a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return "method:\n params:\n" + "\n".join(" " + line for line in lines) + "\n"


def dead_pid():
    """The pid of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def checkpoint_files(workdir, suffix):
    folder = os.path.join(workdir, "checkpoints")
    return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(suffix))


def build_cases(base, sysu_root):
    """{name: (tool, args, what the test checks afterwards)} with their inputs prepared."""
    directory, config, run = base
    cases = {}
    at = directory / "cases"
    at.mkdir()
    checkpoints = os.path.join(run, "checkpoints")

    def train_on(root, name):
        return "train", [
            "--config",
            config,
            "--workdir",
            str(at / name),
            "--set",
            f"data.root={root}",
        ]

    def evaluate_on(root, name):
        args = ["--config", config, "--checkpoint", checkpoints, "--set", f"data.root={root}"]
        return "test", [*args, "--output", str(at / f"{name}.json")]

    # Export: only a SavedModel is replaced, and only when asked.
    precious = at / "precious.txt"
    precious.write_text("keep me")
    folder = at / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    work_copy = copy_tree(run, at / "work_copy")
    old_model = copy_tree(os.path.join(run, "saved_model"), at / "old_model")
    replaced = copy_tree(os.path.join(run, "saved_model"), at / "replaced")
    for prefix in (".replaced.staging-", ".retired-"):  # left by exports killed with -9
        os.makedirs(at / f"{prefix}{socket.gethostname()}-{dead_pid()}-abc" / "variables")
    for name, target, extra in [
        ("export_over_file", str(precious), []),
        ("export_over_folder", str(folder), []),
        ("export_over_workdir", work_copy, []),
        ("export_over_saved_model", old_model, []),
        ("export_overwrite", replaced, ["--overwrite"]),
    ]:
        cases[name] = ("export", ["--config", config, "--checkpoint", checkpoints,
                                  "--output", target, *extra])  # fmt: skip

    # A rerun with a config that does not describe the work dir's checkpoints.
    changed = copy_tree(run, at / "changed")
    cases["rerun_changed_config"] = (
        "train", ["--config", config, "--workdir", changed, "--set", "model.feature_dim=32"]
    )  # fmt: skip

    # Test split sanity.
    for name, edit in [
        ("test_id_twice", lambda r: write_ids(r, "test", ids(r, "test") + ids(r, "test")[:1])),
        ("test_id_without_folder", lambda r: write_ids(r, "test", ids(r, "test") + [77])),
        ("test_id_is_training_id", lambda r: write_ids(r, "test", [ids(r, "train")[0]])),
    ]:  # fmt: skip
        root = copy_tree(sysu_root, at / name)
        edit(root)
        cases[name] = evaluate_on(root, name)

    # Images the pipeline cannot read, in the test split (evaluation) and in training.
    root = copy_tree(sysu_root, at / "truncated_test_image")
    truncate(an_image(root, "test"))
    cases["truncated_test_image"] = evaluate_on(root, "truncated_test_image")
    root = copy_tree(sysu_root, at / "tiff_in_test_split")
    make_tiff(an_image(root, "test"))
    cases["train_with_tiff_in_test_split"] = train_on(root, "tiff_run")
    for name, damage in [("dangling", dangle), ("directory", make_directory), ("loop", loop)]:
        root = copy_tree(sysu_root, at / f"train_{name}")
        damage(an_image(root, "train"))
        cases[f"train_{name}"] = train_on(root, f"run_{name}")

    # check_dataset applies the pipeline's rules and reads the split files.
    for name, damage in [("tiff", make_tiff), ("truncated", truncate), ("dangling", dangle)]:
        root = copy_tree(sysu_root, at / f"check_{name}")
        damage(an_image(root, "test"))
        cases[f"check_{name}"] = ("check_dataset", [root, "--format", "sysu"])
    root = copy_tree(sysu_root, at / "check_split")
    write_ids(root, "test", ids(root, "test") + ids(root, "test")[:1])
    cases["check_split"] = ("check_dataset", [root, "--format", "sysu"])

    # Damaged checkpoints and SavedModels.
    damaged = copy_tree(run, at / "damaged_checkpoints")
    for path in checkpoint_files(damaged, ".data-00000-of-00001"):
        truncate(path)
    cases["damaged_checkpoint"] = (
        "test", ["--config", config, "--checkpoint", os.path.join(damaged, "checkpoints"),
                 "--output", str(at / "damaged.json")]
    )  # fmt: skip
    cases["checkpoint_of_another_config"] = (
        "export", ["--config", config, "--checkpoint", checkpoints, "--set", "model.feature_dim=32",
                   "--output", str(at / "other_model")]
    )  # fmt: skip
    garbage = copy_tree(os.path.join(run, "saved_model"), at / "garbage_model")
    with open(os.path.join(garbage, "saved_model.pb"), "wb") as f:
        f.write(b"garbage" * 50)
    cases["damaged_saved_model"] = (
        "test", ["--config", config, "--saved-model", garbage, "--output", str(at / "g.json")]
    )  # fmt: skip
    resumed = copy_tree(run, at / "latest_damaged")
    truncate(checkpoint_files(resumed, ".data-00000-of-00001")[-1])
    unfinished = os.path.join(resumed, "checkpoints", "ckpt-3_temp")  # a save cut short
    os.makedirs(unfinished)
    with open(os.path.join(unfinished, "part-00000-of-00001.data-00000-of-00001"), "wb") as f:
        f.write(b"\0" * 1000)
    cases["resume_latest_damaged"] = (
        "train", ["--config", config, "--workdir", resumed, "--set", "eval=null"]
    )  # fmt: skip

    # An output that cannot be written fails before the work.
    cases["unwritable_output"] = (
        "test", ["--config", config, "--checkpoint", checkpoints, "--output", "/proc/r.json"]
    )  # fmt: skip
    unwritable = at / "unwritable_checkpoints"
    unwritable.mkdir()
    (unwritable / MARKER).write_text("")
    os.symlink("/proc", unwritable / "checkpoints")  # a folder no one can write to, even root
    cases["unwritable_checkpoints"] = ("train", ["--config", config, "--workdir", str(unwritable)])
    build_hostile_cases(cases, at, base, sysu_root, train_on)
    return cases


def build_hostile_cases(cases, at, base, sysu_root, train_on):
    """Configs, data sets and work dirs made to hang or exhaust a tool, or to be written over."""
    directory, config, run = base
    checkpoints = os.path.join(run, "checkpoints")
    for name, text in [
        ("alias_bomb", alias_bomb()),
        ("deep", "data: " + "[" * 5000 + "]" * 5000 + "\n"),
        ("list_key", "data:\n  [height, width]: 32\n"),
    ]:
        (at / f"{name}.yaml").write_text(text)
        cases[f"config_{name}"] = ("train", ["--config", str(at / f"{name}.yaml")])
    with open(at / "huge.yaml", "w") as f:
        f.write("data: {height: 32}\n" + "# " + "x" * 50 * 2**20 + "\n")
    cases["config_huge"] = ("train", ["--config", str(at / "huge.yaml")])

    root = copy_tree(sysu_root, at / "special_files")
    special_files(person_folder(root, "train"))
    write_png_bomb(os.path.join(person_folder(root, "train"), "bomb.jpg"))
    cases["train_special_files"] = train_on(root, "run_special_files")
    root = copy_tree(sysu_root, at / "folder_loop")
    shutil.rmtree(person_folder(root, "train"))
    os.symlink(person_folder(root, "train"), person_folder(root, "train"))
    cases["train_folder_loop"] = train_on(root, "run_folder_loop")
    root = copy_tree(sysu_root, at / "negative_id")
    write_ids(root, "train", ids(root, "train") + [-5])
    shutil.copytree(person_folder(root, "train"), os.path.join(root, "cam1", "-005"))
    cases["train_negative_id"] = train_on(root, "run_negative_id")

    root = copy_tree(sysu_root, at / "check_hostile")  # every kind, each on a line of its own
    special_files(person_folder(root, "train"))
    write_png_bomb(os.path.join(person_folder(root, "test", camera=3), "bomb.jpg"))
    odd = os.fsdecode(os.fsencode(os.path.join(root, "cam2")) + b"/\xff")
    shutil.copytree(person_folder(root, "train", camera=2), odd)
    os.symlink(os.path.join(root, "cam4", "loop"), os.path.join(root, "cam4", "loop"))
    cases["check_hostile"] = ("check_dataset", [root, "--format", "sysu"])

    foreign = at / "foreign"
    foreign.mkdir()
    (foreign / "config.yaml").write_text("someone: else\n")
    (foreign / "results.json").write_text('{"theirs": 1}')
    cases["foreign_workdir"] = ("train", ["--config", config, "--workdir", str(foreign)])
    past = copy_tree(run, at / "past_total")
    os.remove(os.path.join(past, "config.yaml"))  # nothing left to say another run's weights
    cases["checkpoint_past_total"] = (
        "train", ["--config", config, "--workdir", past, "--set", "train.steps_per_epoch=1"]
    )  # fmt: skip
    for name, setting in [("test", "data.mean=[0.5, 0.5, 0.5]"), ("export", "data.height=64")]:
        output = ["--output", str(at / f"{name}_other_preprocessing")]
        cases[f"{name}_other_preprocessing"] = (
            name, ["--config", config, "--checkpoint", checkpoints, "--set", setting, *output]
        )  # fmt: skip


@pytest.fixture(scope="module")
def outcomes(base, sysu_root):
    """{case name: CompletedProcess}, every case's tool process run concurrently."""
    cases = build_cases(base, sysu_root)
    with concurrent.futures.ThreadPoolExecutor(CONCURRENT) as pool:
        results = {
            name: pool.submit(lambda tool=tool, args=args: finish(start(tool, *args)))
            for name, (tool, args) in cases.items()
        }
        return {name: result.result() for name, result in results.items()}


def cases_dir(base):
    return base[0] / "cases"


@pytest.mark.parametrize(
    "case,kept",
    [
        ("export_over_file", "precious.txt"),
        ("export_over_folder", "folder/notes.txt"),
        ("export_over_workdir", "work_copy/results.json"),
        ("export_over_saved_model", "old_model/saved_model.pb"),
    ],
)
def test_export_never_replaces_what_is_not_a_saved_model_or_was_not_asked(
    outcomes, base, case, kept
):
    assert_one_line_error(outcomes[case], 2, str(cases_dir(base) / kept.split("/")[0]))
    assert os.path.isfile(cases_dir(base) / kept)
    if case == "export_over_saved_model":
        assert "--overwrite" in last_line(outcomes[case].stderr)


def test_export_overwrite_replaces_a_saved_model_with_the_umask_permissions(outcomes, base):
    assert outcomes["export_overwrite"].returncode == 0, outcomes["export_overwrite"].stderr
    target = cases_dir(base) / "replaced"
    assert tf.saved_model.contains_saved_model(str(target))
    mask = os.umask(0o022)
    os.umask(mask)
    assert os.stat(target).st_mode & 0o777 == 0o777 & ~mask
    assert os.stat(target / "saved_model.pb").st_mode & 0o777 == 0o666 & ~mask
    leftovers = [n for n in os.listdir(cases_dir(base)) if n.startswith(".")]
    assert leftovers == []


def test_results_are_written_with_the_umask_permissions(base):
    _, _, run = base
    mask = os.umask(0o022)
    os.umask(mask)
    for name in ("results.json", "config.yaml", "results_cmc.png"):
        assert os.stat(os.path.join(run, name)).st_mode & 0o777 == 0o666 & ~mask, name


def test_a_rerun_with_another_config_names_the_key_and_changes_nothing(outcomes, base):
    _, _, run = base
    assert_one_line_error(outcomes["rerun_changed_config"], 2, "model.feature_dim", "32", "16")
    changed = cases_dir(base) / "changed"
    with open(os.path.join(run, "config.yaml")) as a, open(changed / "config.yaml") as b:
        assert a.read() == b.read()
    assert sorted(os.listdir(changed / "checkpoints")) == sorted(
        os.listdir(os.path.join(run, "checkpoints"))
    )


@pytest.mark.parametrize(
    "case,fragments",
    [
        ("test_id_twice", ["test_id.txt", "more than once"]),
        ("test_id_without_folder", ["test id 77", "no folder"]),
        ("test_id_is_training_id", ["test_id.txt", "also a training"]),
    ],
)
def test_a_bad_test_split_is_an_error(outcomes, case, fragments):
    assert_one_line_error(outcomes[case], 1, *fragments)


def test_a_truncated_test_image_is_named_by_the_evaluation(outcomes, base, sysu_root):
    path = an_image(str(cases_dir(base) / "truncated_test_image"), "test")
    assert_one_line_error(outcomes["truncated_test_image"], 1, path, "cannot be decoded")


def test_an_unreadable_test_image_stops_training_before_it_starts(outcomes, base):
    path = an_image(str(cases_dir(base) / "tiff_in_test_split"), "test")
    assert_one_line_error(outcomes["train_with_tiff_in_test_split"], 1, path, "TIFF")
    assert not os.path.exists(cases_dir(base) / "tiff_run" / "checkpoints")


@pytest.mark.parametrize(
    "name,reason",
    [("dangling", "dangling symlink"), ("directory", "is a directory"), ("loop", "symlink loop")],
)
def test_a_training_file_that_cannot_be_read_is_named(outcomes, base, name, reason):
    path = an_image(str(cases_dir(base) / f"train_{name}"), "train")
    assert_one_line_error(outcomes[f"train_{name}"], 1, path, reason)


@pytest.mark.parametrize(
    "name,reason", [("tiff", "TIFF"), ("truncated", "cannot be decoded"), ("dangling", "dangling")]
)
def test_check_dataset_applies_the_pipeline_rules(outcomes, base, name, reason):
    path = an_image(str(cases_dir(base) / f"check_{name}"), "test")
    result = outcomes[f"check_{name}"]
    assert_one_line_error(result, 1, path, reason)
    assert f"BAD {path}: " in result.stdout


def test_check_dataset_reads_the_split_files(outcomes):
    result = outcomes["check_split"]
    assert_one_line_error(result, 1, "split problem", "test_id.txt", "more than once")
    assert "0 bad" in result.stdout


def test_damaged_checkpoint_and_saved_model_are_one_line_errors(outcomes):
    assert_one_line_error(outcomes["damaged_checkpoint"], 1, "ckpt-2", "cannot be restored")
    assert_one_line_error(outcomes["damaged_saved_model"], 1, "garbage_model", "cannot be loaded")


def test_a_checkpoint_of_another_config_names_the_key(outcomes):
    """Compared with the run's config.yaml before the checkpoint is read: a config error."""
    result = outcomes["checkpoint_of_another_config"]
    assert_one_line_error(result, 2, "model.feature_dim: 32 differs from 16", "ckpt-2 was trained")


def test_a_damaged_latest_checkpoint_is_named_and_the_one_before_resumes(outcomes, base):
    result = outcomes["resume_latest_damaged"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ckpt-2 cannot be restored" in result.stderr
    assert "resuming from" in result.stdout and "ckpt-1 (step 1 of 2)" in result.stdout
    workdir = str(cases_dir(base) / "latest_damaged")
    reader = tf.train.load_checkpoint(os.path.join(workdir, "checkpoints", "ckpt-2"))
    assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == 2


def test_an_unwritable_output_fails_before_the_work(outcomes):
    result = outcomes["unwritable_output"]
    assert_one_line_error(result, 1, "/proc/r.json")
    assert "embedding" not in result.stderr  # no evaluation ran


@pytest.mark.parametrize(
    "name,problem",
    [
        ("alias_bomb", "more than 10,000 values once aliases are expanded"),
        ("deep", "nested deeper than 32 levels"),
        ("list_key", "a key must be a name (a string), got a list at line 2"),
        ("huge", "is larger than 64 KB"),
    ],
)
def test_a_config_that_would_exhaust_the_tool_is_one_short_line_with_exit_2(
    outcomes, base, name, problem
):
    result = outcomes[f"config_{name}"]
    assert_one_line_error(result, 2, str(cases_dir(base) / f"{name}.yaml"), problem)
    assert len(last_line(result.stderr)) < 300


def test_a_bomb_a_fifo_and_a_name_that_is_not_utf8_are_named_before_training(outcomes, base):
    """The first three bad files (by name) are named in the line: the 12000 x 12000 PNG, the
    name that is not UTF-8 (shown escaped) and the FIFO; the device, if any, is counted."""
    folder = person_folder(str(cases_dir(base) / "special_files"), "train")
    result = outcomes["train_special_files"]
    assert_one_line_error(
        result,
        1,
        f"{os.path.join(folder, 'bomb.jpg')}: is 12000x12000 = 144,000,000 pixels, more than "
        "data.max_image_pixels = 89,478,485 (refused from its header, not decoded)",
        f"{os.path.join(folder, 'caf')}\\xe9.jpg: has a name that is not UTF-8",
        f"{os.path.join(folder, 'fifo.jpg')}: is a FIFO",
    )
    if os.path.exists(os.path.join(folder, "zero.jpg")):
        assert last_line(result.stderr).endswith("(and 1 more)")
    assert not os.path.exists(cases_dir(base) / "run_special_files" / "checkpoints")


@pytest.mark.parametrize(
    "case,fragments",
    [
        ("folder_loop", ["SYSU-MM01 folder", "is a symlink loop"]),
        ("negative_id", ["train_id.txt: expected one line of comma-separated integer ids",
                         "got '-5'"]),
    ],
)  # fmt: skip
def test_a_hostile_data_set_stops_training_before_any_step(outcomes, base, case, fragments):
    assert_one_line_error(outcomes[f"train_{case}"], 1, *fragments)
    assert not os.path.exists(cases_dir(base) / f"run_{case}" / "checkpoints")


def test_check_dataset_names_each_hostile_file_on_a_line_without_reading_it(outcomes, base):
    root = str(cases_dir(base) / "check_hostile")
    result = outcomes["check_hostile"]
    assert_one_line_error(result, 1, "cannot be read")
    bad = [line for line in result.stdout.splitlines() if line.startswith("BAD ")]
    folder = person_folder(root, "train")
    expected = {
        os.path.join(folder, "fifo.jpg"): "is a FIFO",
        f"{os.path.join(folder, 'caf')}\\xe9.jpg": "has a name that is not UTF-8",
        f"{os.path.join(root, 'cam2')}/\\xff/": "has a name that is not UTF-8",
        os.path.join(root, "cam4", "loop"): "is a symlink loop",
        os.path.join(person_folder(root, "test", camera=3), "bomb.jpg"): "144,000,000 pixels",
    }
    if os.path.exists(os.path.join(folder, "zero.jpg")):
        expected[os.path.join(folder, "zero.jpg")] = "is a character device"
    for path, reason in expected.items():
        assert any(line.startswith(f"BAD {path}") and reason in line for line in bad), path
    images_in_odd_folder = len(os.listdir(person_folder(root, "train", camera=2)))
    assert len(bad) == len(expected) - 1 + images_in_odd_folder


def test_a_folder_that_is_not_a_work_dir_is_refused_and_left_untouched(outcomes, base):
    foreign = cases_dir(base) / "foreign"
    assert_one_line_error(outcomes["foreign_workdir"], 2, f"work dir {foreign} is not empty")
    assert sorted(os.listdir(foreign)) == ["config.yaml", "results.json"]
    assert (foreign / "config.yaml").read_text() == "someone: else\n"
    assert (foreign / "results.json").read_text() == '{"theirs": 1}'


def test_a_checkpoint_past_the_configured_steps_is_refused(outcomes, base):
    result = outcomes["checkpoint_past_total"]
    assert_one_line_error(result, 2, "ckpt-2 is at step 2, past the 1 steps of this config")
    assert not os.path.exists(cases_dir(base) / "past_total" / "config.yaml")


def test_an_unwritable_checkpoints_folder_is_found_before_training(outcomes, base):
    workdir = cases_dir(base) / "unwritable_checkpoints"
    assert_one_line_error(outcomes["unwritable_checkpoints"], 1, f"{workdir}/checkpoints")
    assert sorted(os.listdir(workdir)) == sorted([MARKER, LOCK, "checkpoints"])


@pytest.mark.parametrize("tool,key", [("test", "data.mean"), ("export", "data.height")])
def test_evaluation_and_export_refuse_other_preprocessing_than_training(outcomes, base, tool, key):
    result = outcomes[f"{tool}_other_preprocessing"]
    assert_one_line_error(result, 2, f"{key}: ", "differs from", "config.yaml")
    assert not os.path.exists(cases_dir(base) / f"{tool}_other_preprocessing")


def test_leftovers_of_killed_saves_and_exports_are_removed_and_named(outcomes, base):
    resumed = outcomes["resume_latest_damaged"]
    unfinished = cases_dir(base) / "latest_damaged" / "checkpoints" / "ckpt-3_temp"
    assert f"removed {unfinished}, left by a checkpoint save that was cut short" in resumed.stdout
    assert not unfinished.exists()
    exported = outcomes["export_overwrite"]
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert exported.stdout.count("left by an interrupted process") == 2
    assert not [n for n in os.listdir(cases_dir(base)) if n.startswith(".")]


# --- crashes -------------------------------------------------------------------------------


def wait_for(condition, process, timeout=300):
    """Polls `condition()` while `process` runs; True once it holds."""
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def kill(process):
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)


def checkpoint_tensors(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()}


def test_kill_9_during_training_resumes_to_bit_identical_weights(base, tmp_path):
    """Killed after ckpt-2 of 4 and restarted, the run ends with the weights, optimizer state
    and step of an uninterrupted run, bit for bit."""
    _, config, _ = base
    args = ["--config", config, "--set", "train.epochs=4", "train.steps_per_epoch=1", "eval=null"]
    straight = start("train", *args, "--workdir", str(tmp_path / "straight"))
    killed = str(tmp_path / "killed")
    process = start("train", *args, "--workdir", killed)
    index = os.path.join(killed, "checkpoints", "ckpt-2.index")
    assert wait_for(lambda: os.path.exists(index), process)
    kill(process)
    resumed = finish(start("train", *args, "--workdir", killed))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert finish(straight).returncode == 0
    assert "resuming from" in resumed.stdout
    ours = checkpoint_tensors(os.path.join(killed, "checkpoints", "ckpt-4"))
    theirs = checkpoint_tensors(str(tmp_path / "straight" / "checkpoints" / "ckpt-4"))
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        if "save_counter" not in key:
            np.testing.assert_array_equal(ours[key], value, err_msg=key)


def test_kill_9_during_export_keeps_the_previous_saved_model(base, tmp_path):
    _, config, run = base
    target = copy_tree(os.path.join(run, "saved_model"), tmp_path / "model")
    with open(os.path.join(target, "saved_model.pb"), "rb") as f:
        before = f.read()
    process = start("export", "--config", config, "--checkpoint", os.path.join(run, "checkpoints"),
                    "--output", target, "--overwrite")  # fmt: skip

    def staging():
        return any(n.startswith(".model.staging-") for n in os.listdir(tmp_path))

    assert wait_for(staging, process)
    kill(process)
    with open(os.path.join(target, "saved_model.pb"), "rb") as f:
        assert f.read() == before
    assert tf.saved_model.contains_saved_model(target)


def test_kill_9_during_synthetic_generation_leaves_no_data_set(base, tmp_path):
    """tools/train.py writes the synthetic set beside data.root and renames it when complete:
    killed while writing, data.root does not exist, and the rerun writes it anew."""
    _, config, _ = base
    root = tmp_path / "synthetic"
    args = ["--config", config, "--workdir", str(tmp_path / "run"), "--set", f"data.root={root}",
            "data.synthetic_ids=6", "train.steps_per_epoch=1", "eval=null"]  # fmt: skip
    process = start("train", *args)
    assert wait_for(lambda: list(tmp_path.glob(".synthetic.incomplete-*/cam3")), process)
    kill(process)
    assert not root.exists()
    result = finish(start("train", *args))
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(root)) == ["cam1", "cam2", "cam3", "cam4", "cam5", "cam6", "exp"]


@pytest.fixture
def small_disk(tmp_path):
    """A 60 MB tmpfs (one tiny checkpoint is about 39 MB): room for one checkpoint, not two."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=60m", "tmpfs", str(mount)],
                          capture_output=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_full_disk_is_one_line_with_no_partial_file_and_the_last_checkpoint_intact(
    base, small_disk
):
    _, config, _ = base
    workdir = small_disk / "run"
    result = finish(start("train", "--config", config, "--workdir", str(workdir),
                          "--set", "train.keep_checkpoints=3", "eval=null"))  # fmt: skip
    assert_one_line_error(result, 1, "ckpt-2", "No space left on device", "ckpt-1")
    names = os.listdir(workdir / "checkpoints")
    assert sorted(n for n in names if "ckpt" in n) == [
        "ckpt-1.data-00000-of-00001",
        "ckpt-1.index",
    ]
    tensors = checkpoint_tensors(str(workdir / "checkpoints" / "ckpt-1"))
    assert tensors["step/.ATTRIBUTES/VARIABLE_VALUE"] == 1


def test_sigterm_saves_the_step_reached_and_the_rerun_ends_as_an_uninterrupted_run(base, tmp_path):
    """SIGTERM (a scheduler's pre-emption notice) during training: one line, exit 143, a
    checkpoint at the step the run had reached (no periodic one is due), and the rerun resumes
    there and ends with the weights of an uninterrupted run, bit for bit."""
    _, config, _ = base
    args = ["--config", config, "--set", "train.steps_per_epoch=80", "train.checkpoint_every=1000",
            "train.log_every=1", "eval=null"]  # fmt: skip
    straight = start("train", *args, "--workdir", str(tmp_path / "straight"))
    stopped = str(tmp_path / "stopped")
    process = start("train", *args, "--workdir", stopped)
    logs = os.path.join(stopped, "logs")

    def trained_a_step():  # the event file grows when the first step's losses are logged
        files = [os.path.join(logs, n) for n in os.listdir(logs)] if os.path.isdir(logs) else []
        return any(os.path.getsize(f) > 200 for f in files)

    assert wait_for(trained_a_step, process)
    process.send_signal(signal.SIGTERM)
    result = finish(process)
    assert_one_line_error(result, EXIT_STATUS, "stopped by SIGTERM at step ")
    step = int(last_line(result.stderr).split(" at step ")[1].split()[0])
    assert 1 <= step < 80, result.stderr[-3000:]
    assert f"checkpoint {stopped}/checkpoints/ckpt-{step}; the same command resumes" in (
        last_line(result.stderr)
    )
    names = sorted(n for n in os.listdir(os.path.join(stopped, "checkpoints")) if "ckpt" in n)
    assert names == [f"ckpt-{step}.data-00000-of-00001", f"ckpt-{step}.index"]
    resumed = finish(start("train", *args, "--workdir", stopped))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"ckpt-{step} (step {step} of 80)" in resumed.stdout
    assert finish(straight).returncode == 0
    ours = checkpoint_tensors(os.path.join(stopped, "checkpoints", "ckpt-80"))
    theirs = checkpoint_tensors(str(tmp_path / "straight" / "checkpoints" / "ckpt-80"))
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        if "save_counter" not in key:
            np.testing.assert_array_equal(ours[key], value, err_msg=key)


def test_a_second_run_on_a_work_dir_in_use_stops_at_once_and_the_first_is_untouched(base, tmp_path):
    _, config, _ = base
    workdir = str(tmp_path / "run")
    args = ["--config", config, "--workdir", workdir, "--set", "eval=null"]
    first = start("train", *args)
    lock = os.path.join(workdir, LOCK)
    assert wait_for(lambda: os.path.exists(lock) and open(lock).read().strip(), first)
    first.send_signal(signal.SIGSTOP)  # holds the lock while the second one tries
    try:
        second = finish(start("train", *args, "--set", "train.epochs=2"))
    finally:
        first.send_signal(signal.SIGCONT)
    holder = f"pid {first.pid} on {socket.gethostname()}"
    assert_one_line_error(second, 1, f"work dir {workdir} is in use by another run ({holder}")
    result = finish(first)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(os.path.join(workdir, "config.yaml")) as f:
        assert "epochs: 1\n" in f.read()  # the first run's, not the second's
    assert (
        checkpoint_tensors(os.path.join(workdir, "checkpoints", "ckpt-2"))[
            "step/.ATTRIBUTES/VARIABLE_VALUE"
        ]
        == 2
    )

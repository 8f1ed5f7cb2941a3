"""A work dir is ours (marked, empty, or an earlier version's) and one run's at a time."""

import os
import socket

import pytest

from tfreid.cli import UsageError
from tfreid.config import load_config, save_config
from tfreid.training.workdir import LOCK, MARKER, WorkDirBusy, claimed


def listing(folder):
    return {
        os.path.relpath(os.path.join(base, name), folder): open(os.path.join(base, name)).read()
        for base, _, names in os.walk(folder)
        for name in names
    }


@pytest.mark.parametrize("made", [False, True])
def test_a_new_or_empty_directory_is_marked_and_locked_by_its_run(tmp_path, made):
    workdir = tmp_path / "run"
    if made:
        workdir.mkdir()
    with claimed(str(workdir)):
        assert (workdir / MARKER).is_file()
        holder = (workdir / LOCK).read_text()
        assert holder.startswith(f"pid {os.getpid()} on {socket.gethostname()}, started ")


def test_a_run_that_fails_before_writing_removes_the_work_dir_it_created(tmp_path):
    created, kept = tmp_path / "created", tmp_path / "kept"
    kept.mkdir()
    for workdir in (created, kept):
        with pytest.raises(ValueError), claimed(str(workdir)):
            raise ValueError("bad data")
    assert not created.exists()
    assert sorted(os.listdir(kept)) == [LOCK, MARKER]  # the user made it: left in place
    written = tmp_path / "written"
    with pytest.raises(ValueError), claimed(str(written)):
        (written / "config.yaml").write_text("{}")
        raise ValueError("later")
    assert (written / "config.yaml").is_file()


def test_a_second_run_on_a_locked_work_dir_stops_naming_the_holder(tmp_path):
    workdir = str(tmp_path / "run")
    with claimed(workdir):
        before = listing(workdir)
        with pytest.raises(WorkDirBusy) as info, claimed(workdir):
            pass
        assert listing(workdir) == before  # the refused run wrote nothing
    message = str(info.value)
    assert f"work dir {workdir} is in use by another run (pid {os.getpid()} on " in message
    with claimed(workdir):  # released when the run ends
        pass


def test_a_folder_that_is_not_ours_is_refused_untouched(tmp_path):
    foreign = tmp_path / "theirs"
    foreign.mkdir()
    (foreign / "config.yaml").write_text("learning: deep\n")
    (foreign / "results.json").write_text("{}")
    stamp = os.stat(foreign).st_mtime_ns
    for chief in (True, False):
        with pytest.raises(UsageError, match=f"work dir {foreign} is not empty and was not made"):
            with claimed(str(foreign), chief):
                pass
    assert listing(str(foreign)) == {"config.yaml": "learning: deep\n", "results.json": "{}"}
    assert os.stat(foreign).st_mtime_ns == stamp
    (tmp_path / "file").write_text("x")
    with (
        pytest.raises(UsageError, match="exists and is not a directory"),
        claimed(str(tmp_path / "file")),
    ):
        pass


def test_a_work_dir_of_an_earlier_version_is_recognised_and_marked(tmp_path, capsys):
    workdir = tmp_path / "old"
    (workdir / "checkpoints").mkdir(parents=True)
    (workdir / "checkpoints" / "ckpt-2.index").write_bytes(b"")
    save_config(load_config(None, ["train.epochs=2"]), str(workdir / "config.yaml"))
    with claimed(str(workdir)):
        assert (workdir / MARKER).is_file()
    assert "a work dir of an earlier tfreid version" in capsys.readouterr().out
    other = tmp_path / "other"  # checkpoints, but not a tfreid config: not ours
    (other / "checkpoints").mkdir(parents=True)
    (other / "checkpoints" / "ckpt-2.index").write_bytes(b"")
    (other / "config.yaml").write_text("lr: 0.1\n")
    with pytest.raises(UsageError, match=f"creating an empty {MARKER} file"), claimed(str(other)):
        pass


def test_the_other_workers_of_a_cluster_neither_mark_nor_lock(tmp_path):
    workdir = tmp_path / "run"
    with claimed(str(workdir), chief=False):
        assert not workdir.exists()
    with claimed(str(workdir)), claimed(str(workdir), chief=False):  # shares the chief's
        pass

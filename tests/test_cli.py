"""tfreid.cli: every failure is one stderr line with the documented exit status; SIGTERM and
the clean-up of what an interrupted process left (tfreid.termination, tfreid.files)."""

import os
import signal
import socket
import subprocess
import sys

import pytest

from tfreid import cli, termination
from tfreid.config import ConfigError
from tfreid.data.samples import DatasetError
from tfreid.files import atomic_write, owned_temp_dir, remove_abandoned
from tfreid.termination import EXIT_STATUS


def outcome(error, capsys, verbose=False, monkeypatch=None):
    def main():
        raise error

    if monkeypatch is not None:
        monkeypatch.setattr(cli, "_VERBOSE", verbose)
    with pytest.raises(SystemExit) as exit_:
        cli.run(main)
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return exit_.value.code, err.strip()


@pytest.mark.parametrize(
    "error,status,line",
    [
        (ConfigError("train.epochs: got 0"), 2, "error: train.epochs: got 0"),
        (cli.UsageError("out exists"), 2, "error: out exists"),
        (DatasetError("cam1 missing"), 1, "error: cam1 missing"),
        (OSError(28, "No space left on device"), 1, "error: [Errno 28] No space left on device"),
        (ValueError("first line\n  detail\n"), 1, "error: first line"),
        (RuntimeError("boom"), 1, "error: unexpected RuntimeError: boom (--verbose shows where)"),
        (KeyboardInterrupt(), 1, "error: interrupted"),
        (
            termination.Terminated("stopped by SIGTERM at step 3"),
            143,
            "error: stopped by SIGTERM at step 3",
        ),
        (ValueError("x" * 5000), 1, f"error: {'x' * 2000}... (3000 more characters)"),
    ],
)
def test_every_error_is_one_line_with_its_status(error, status, line, capsys, monkeypatch):
    assert outcome(error, capsys, monkeypatch=monkeypatch) == (status, line)


def test_verbose_shows_the_traceback_of_an_unexpected_error(monkeypatch):
    monkeypatch.setattr(cli, "_VERBOSE", True)

    def main():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        cli.run(main)


def test_a_usage_error_is_one_line_and_exit_2(capsys, monkeypatch):
    monkeypatch.setattr(cli, "set_verbosity", lambda verbose: None)
    parser = cli.ArgumentParser(prog="tool.py")
    parser.add_argument("--count", type=int)
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--count", "x"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        "error: argument --count: invalid int value: 'x' (see tool.py --help)\n"
    )
    assert parser.parse_args(["--verbose"]).verbose is True


@pytest.mark.parametrize(
    "text,message",
    [("0", "must be at least 1, got 0"), ("-3", "must be at least 1, got -3"),
     ("2.5", "expected an integer, got '2.5'")],
)  # fmt: skip
def test_a_count_below_one_or_not_an_integer_is_a_usage_error(text, message, capsys, monkeypatch):
    monkeypatch.setattr(cli, "set_verbosity", lambda verbose: None)
    parser = cli.ArgumentParser(prog="tool.py")
    parser.add_argument("--count", type=cli.positive_int)
    assert parser.parse_args(["--count", "7"]).count == 7
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--count", text])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"error: argument --count: {message} (see tool.py --help)\n"


def test_sigterm_is_one_line_and_exit_143_after_the_cleanups_ran(tmp_path, capsys):
    """A SIGTERM (a scheduler stopping the job) in the middle of writing an output: the
    temporary file is removed on the way out, nothing is left, exit 143 with one line."""
    target = tmp_path / "picture.png"

    def write(f):
        f.write(b"half a picture")
        os.kill(os.getpid(), signal.SIGTERM)
        f.write(b"never written")

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exit_:
        cli.run(lambda: atomic_write(str(target), write, binary=True))
    assert exit_.value.code == EXIT_STATUS == 143
    assert capsys.readouterr().err == "error: terminated by SIGTERM\n"
    assert os.listdir(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) is before  # the tool's handler is not left behind


def test_within_deferred_a_sigterm_is_noted_and_raises_nothing():
    with termination.raising():
        with termination.deferred() as sigterm:
            assert not sigterm.requested
            os.kill(os.getpid(), signal.SIGTERM)
            assert sigterm.requested
        with pytest.raises(termination.Terminated):
            os.kill(os.getpid(), signal.SIGTERM)


def test_only_the_temporary_directories_of_ended_processes_of_this_host_are_removed(
    tmp_path, capsys
):
    """What an export killed with -9 left is removed at the next export; a running export's
    staging directory and one made on another host (a shared disk) are left alone."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    host = socket.gethostname()
    names = [f".saved_model-{host}-{ended.pid}-a1b2", f".saved_model-{host}-{os.getpid()}-c3d4",
             ".saved_model-elsewhere-7-e5f6", ".saved_model-not-ours", "model"]  # fmt: skip
    for name in names:
        (tmp_path / name / "variables").mkdir(parents=True)
    remove_abandoned(str(tmp_path), ".saved_model-")
    assert sorted(os.listdir(tmp_path)) == sorted(names[1:])
    assert (
        capsys.readouterr().out
        == f"removed {tmp_path / names[0]}, left by an interrupted process\n"
    )
    made = owned_temp_dir(str(tmp_path), ".saved_model-")
    assert os.path.basename(made).startswith(f".saved_model-{host}-{os.getpid()}-")
    remove_abandoned(str(tmp_path), ".saved_model-")
    assert os.path.isdir(made)

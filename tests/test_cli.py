"""tfreid.cli: every failure is one stderr line with the documented exit status."""

import pytest

from tfreid import cli
from tfreid.config import ConfigError
from tfreid.data.samples import DatasetError


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

"""Running the tools as a user does: subprocesses started together (their TensorFlow
start-ups overlap), exit statuses and the one-line error contract. Every test that starts a
Python process starts it here, so each one imports this checkout's tfreid."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 600
# What TensorFlow prints at start-up unless the tools keep it quiet.
START_UP_NOISE = ("absl::InitializeLog", "I0000", "oneDNN custom operations", "cuda drivers")


def start(tool, *args, cwd=None, env=None):
    """Starts tools/<tool>.py with this checkout's tfreid first on the path."""
    return start_python(os.path.join(REPO, "tools", f"{tool}.py"), *args, cwd=cwd, env=env)


def start_python(*args, cwd=None, env=None):
    """Starts `python *args` (a script and its arguments, or `-c CODE`) with this checkout's
    tfreid first on the path; `env` replaces the environment."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )


def finish(process):
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run(tool, *args, cwd=None, env=None):
    """Runs tools/<tool>.py to its end (see `start`); its CompletedProcess."""
    return finish(start(tool, *args, cwd=cwd, env=env))


def run_python(*args, cwd=None, env=None):
    """Runs `python *args` to its end (see `start_python`); its CompletedProcess."""
    return finish(start_python(*args, cwd=cwd, env=env))


def run_all(*commands):
    """Runs (tool, *args) commands concurrently; their CompletedProcesses in the same order."""
    return [finish(p) for p in [start(*command) for command in commands]]


def last_line(stderr):
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def assert_one_line_error(result, status, *fragments):
    """Exit `status`, no traceback, no TensorFlow start-up lines, and the last stderr line an
    `error:` line holding every fragment."""
    assert result.returncode == status, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert not any(noise in result.stderr for noise in START_UP_NOISE), result.stderr[-3000:]
    line = last_line(result.stderr)
    assert line.startswith("error: "), result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in line, line

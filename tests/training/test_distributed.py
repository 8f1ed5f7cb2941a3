"""Two replicas on two logical CPUs train exactly as one device (DESIGN.md "Distribution rule")."""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "two_replica_step.py")


@pytest.mark.parametrize("structure", ["one_stream", "two_stream", "asymmetric_fc"])
def test_two_replicas_match_one_device(structure):
    result = subprocess.run(
        [sys.executable, SCRIPT, structure], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["one"]["loss/total"] == pytest.approx(out["two"]["loss/total"], rel=1e-5)
    assert out["moved"] > 1e-4  # the step really changed the weights
    assert out["weight_diff"] < 1e-10 * max(1.0, out["moved"])  # float64: see the script

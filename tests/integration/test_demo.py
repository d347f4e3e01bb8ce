"""``make demo``'s command: the whole stack on the tiny model, one question, its certainty."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_an_answer_and_its_certainty(stack):  # after the session stack: the model is built
    proc = subprocess.run(
        [sys.executable, "-m", "devstack.demo", "--config", "configs/tiny.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    answer = re.search(r"^Answer: +(.+)$", proc.stdout, re.M)
    certainty = re.search(r"^Certainty: (0\.\d{3})$", proc.stdout, re.M)
    assert answer and answer.group(1).strip() and certainty, proc.stdout
    assert 0.05 <= float(certainty.group(1)) <= 0.95

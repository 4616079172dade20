"""`python -m fmnist_lib lesson check FILE`: exit 0 with the lesson's counts, or 2 with one line per problem."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fmnist_lib.cli import main

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "lessons" / "tutorial.yaml"
EXERCISE = "title: T\nsteps:\n  - exercise: E\n    task: t\n    question: q\n    answer: a\n    check: {}\n"
STEP_LINK = "title: T\nsteps:\n  - step: S\n    text: x\n    links:\n      - {{label: L, page: {}, settings: {}}}\n"

BROKEN = {  # file name -> (content, what its line says)
    "unknown-check.yaml": (EXERCISE.format("divrged"), "step 1 ('E'), check: unknown check 'divrged'"),
    "no-such-page.yaml": (STEP_LINK.format("trian", "{}"), "step 1 ('S'), links[1]: there is no page 'trian'"),
    "no-such-setting.yaml": (STEP_LINK.format("train", "{colour: red}"), "Train has no setting 'colour'"),
    "lr-out-of-range.yaml": (STEP_LINK.format("train", "{lr: 100}"), "lr=100: learning rate must be one of"),
    "index-out-of-range.yaml": (
        STEP_LINK.format("softmax", "{i: 10000}"),
        "i=10000: test image index must be a whole number from 0 to 9999",
    ),
    "epochs-check-too-high.yaml": (EXERCISE.format("{epochs_at_least: 51}"), "epochs_at_least must be from 1 to 50"),
    "missing-question.yaml": (
        "title: T\nsteps:\n  - exercise: E\n    task: t\n    answer: a\n    check: diverged\n",
        "question: missing",
    ),
    "not-yaml.yaml": ("title: [unclosed\nsteps: {\n", "not valid YAML at line"),
    "prose.md": ("# A lesson\n\nJust prose.\n", "not a lesson: a lesson is a YAML mapping"),
    "oversized.yaml": ("# " + "x" * 200_001, "bytes (a lesson may be at most 200,000)"),
    "binary.yaml": (b"\x00\x01\x02PK\x03\x04", "a binary file, not a lesson"),
    "python-tag.yaml": ("title: !!python/object/apply:os.system ['touch /tmp/pwned']\nsteps: []\n", "not valid YAML"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_lesson_exits_2_with_one_line_per_problem(name, tmp_path, capsys):
    content, expected = BROKEN[name]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["lesson", "check", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines and all(line.startswith(f"{path}: ") for line in lines), lines
    assert any(expected in line for line in lines), lines


def test_a_missing_file_exits_2(tmp_path, capsys):
    assert main(["lesson", "check", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: cannot be read" in capsys.readouterr().err


def test_the_shipped_lesson_passes_from_the_command_line():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "fmnist_lib", "lesson", "check", str(TUTORIAL)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "lesson": "tutorial",
        "title": "Softmax regression on Fashion-MNIST, step by step",
        "steps": 12,
        "exercises": 8,
    }

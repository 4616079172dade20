"""`python -m fmnist_lib predict` on every generated image case (tests/support/images.py):
one JSON line per image, "top" for odd-but-valid images, "error" with the case's message for
bad ones, exit status 1 when any failed while the others still answered, and no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fmnist_lib import TrainingRun, default_config, save_checkpoint
from fmnist_lib.cli import main
from tests.support.data import make_tiny_data
from tests.support.images import all_cases, error_cases, valid_cases, write_case_files

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    run = TrainingRun(default_config("softmax", epochs=1))
    run.fit(make_tiny_data())
    path = tmp_path_factory.mktemp("ckpt") / "softmax.pt"
    save_checkpoint(run, path)
    return path


@pytest.fixture(scope="module")
def case_files(tmp_path_factory) -> dict[str, Path]:
    return write_case_files(tmp_path_factory.mktemp("cases"))


def _lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_predict_every_case_in_one_call(checkpoint, case_files):
    """A real process: the exit status, stdout and stderr as a script sees them."""
    cases = all_cases()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "fmnist_lib", "predict", "--checkpoint", str(checkpoint)]
        + [str(case_files[c.name]) for c in cases],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    out = _lines(proc.stdout)
    assert len(out) == len(cases), "one line per image, none dropped"
    for c, line in zip(cases, out, strict=True):
        assert line["file"] == str(case_files[c.name])
        if c.expect == "error":
            assert "top" not in line, c.name
            assert c.message in line["error"], (c.name, line["error"])
        else:
            assert "error" not in line, (c.name, line.get("error"))
            assert len(line["top"]) == 3
            probs = [t["prob"] for t in line["top"]]
            assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
            assert all(0 <= t["index"] < 10 and t["label"] for t in line["top"])


def test_only_valid_images_exit_0(checkpoint, case_files, capsys):
    paths = [str(case_files[c.name]) for c in valid_cases()]
    assert main(["predict", "--checkpoint", str(checkpoint), "--top", "2", *paths]) == 0
    out = _lines(capsys.readouterr().out)
    assert [line["file"] for line in out] == paths
    assert all(len(line["top"]) == 2 for line in out)


@pytest.mark.parametrize("c", error_cases(), ids=lambda c: c.name)
def test_each_bad_file_alone_exits_1_with_its_message(checkpoint, case_files, capsys, c):
    assert main(["predict", "--checkpoint", str(checkpoint), str(case_files[c.name])]) == 1
    captured = capsys.readouterr()
    (line,) = _lines(captured.out)
    assert c.message in line["error"]
    assert "Traceback" not in captured.err


def test_tutorial_pipeline_flag_also_answers_every_case(checkpoint, case_files, capsys):
    cases = all_cases()
    code = main(
        ["predict", "--checkpoint", str(checkpoint), "--pipeline", "tutorial"]
        + [str(case_files[c.name]) for c in cases]
    )
    assert code == 1
    out = _lines(capsys.readouterr().out)
    assert [("error" in line) for line in out] == [c.expect == "error" for c in cases]


def test_missing_file_is_reported_and_the_others_still_answer(checkpoint, case_files, tmp_path, capsys):
    good = str(case_files["webp"])
    code = main(["predict", "--checkpoint", str(checkpoint), str(tmp_path / "missing.png"), good])
    assert code == 1
    first, second = _lines(capsys.readouterr().out)
    assert "Cannot read" in first["error"]
    assert second["file"] == good and len(second["top"]) == 3

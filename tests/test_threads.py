"""fmnist_lib.threads: torch threads per model (the measured policy), --threads, and what threads do to the bits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fmnist_lib import TrainingRun, cli, default_config, save_checkpoint
from fmnist_lib import threads as policy
from tests.support.data import make_tiny_data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def keep_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_the_policy_per_model_is_the_measured_one():
    # bench/results/threads.md: one thread for softmax (a second one gains nothing idle and collapses with a
    # busy core); the CNN's count is the table's too. A change here needs the bench rerun.
    assert policy.POLICY == {"softmax": 1, "cnn": 1}
    assert policy.threads_for("softmax") == 1
    assert policy.threads_for("cnn") == min(policy.POLICY["cnn"], policy.cores())


def test_the_policy_never_gives_more_threads_than_a_share_of_the_cores(monkeypatch):
    monkeypatch.setitem(policy.POLICY, "cnn", 4)
    monkeypatch.setattr(policy, "cores", lambda: 2)
    assert policy.threads_for("cnn") == 2
    assert policy.threads_for("cnn", sharing=2) == 1  # two workers on two cores: one thread each
    assert policy.threads_for("cnn", sharing=5) == 1  # never zero
    with pytest.raises(ValueError, match="no thread policy for model 'mlp'"):
        policy.threads_for("mlp")


def test_apply_sets_torch_threads_from_the_policy_or_the_argument():
    assert policy.apply("softmax") == 1 == torch.get_num_threads()
    assert policy.apply("softmax", threads=2) == 2 == torch.get_num_threads()
    with pytest.raises(ValueError, match="at least 1"):
        policy.apply("softmax", threads=0)


def test_cores_is_this_processs_affinity():
    assert policy.cores() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("argv, expected", [([], 1), (["--threads", "2"], 2), (["--threads", "3"], 3)])
def test_cli_train_uses_the_policy_unless_threads_is_given(tmp_path, monkeypatch, capsys, argv, expected):
    monkeypatch.setattr(cli, "_load_data", lambda args: make_tiny_data())
    torch.set_num_threads(5)  # whatever was there before
    out = tmp_path / "m.pt"
    assert cli.main(["train", "--epochs", "1", "--out", str(out), *argv]) == 0
    assert torch.get_num_threads() == expected


def test_cli_evaluate_uses_the_checkpoints_model_policy(tmp_path, monkeypatch, capsys):
    data = make_tiny_data()
    run = TrainingRun(default_config("softmax", epochs=1))
    run.fit(data)
    save_checkpoint(run, tmp_path / "m.pt")
    monkeypatch.setattr(cli, "_load_data", lambda args: data)
    torch.set_num_threads(3)
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path / "m.pt")]) == 0
    assert torch.get_num_threads() == policy.threads_for("softmax")
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path / "m.pt"), "--threads", "2"]) == 0
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("command", ["train", "default-model", "evaluate"])
def test_cli_threads_must_be_a_positive_whole_number(command, capsys):
    with pytest.raises(SystemExit) as e:
        cli.build_parser().parse_args([command, "--threads", "0"])
    assert e.value.code == cli.EXIT_UNUSABLE
    assert "--threads: must be at least 1, got 0" in capsys.readouterr().err


def _softmax_weights(threads: int) -> torch.Tensor:
    torch.set_num_threads(threads)
    run = TrainingRun(default_config("softmax", epochs=2, batch_size=64))
    run.fit(make_tiny_data(n_train=1024, n_test=32, seed=3))
    return run.model.linear.weight.detach().clone()


@pytest.mark.parametrize("threads", [1, 2])
def test_softmax_repeats_bit_for_bit_at_a_given_thread_count(threads):
    assert torch.equal(_softmax_weights(threads), _softmax_weights(threads))


def test_softmax_at_1_and_2_threads_differs_only_in_the_last_bits():
    # The documented difference (docs/threads.md): MKL splits a product's sums by thread, so the float sums
    # round differently, by about 1e-8 here. Which is why the policy fixes one count per model for every entry
    # point, whatever the machine's cores.
    one, two = _softmax_weights(1), _softmax_weights(2)
    torch.testing.assert_close(one, two, rtol=0, atol=1e-6)


@pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="MKL's reproducibility switch")
def test_mkl_strict_reproducibility_gives_the_same_bits_at_1_and_2_threads():
    # MKL_CBWR is read once, at MKL's first product in a process: a fresh one, with it set from the start.
    code = (
        "import torch\n"
        "from tests.test_threads import _softmax_weights\n"
        "print(torch.equal(_softmax_weights(1), _softmax_weights(2)))\n"
    )
    env = {**os.environ, "MKL_CBWR": "AUTO,STRICT"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "True"


@pytest.mark.integration
@pytest.mark.parametrize("threads", [1, 2])
def test_the_tutorials_softmax_default_is_82_3_percent_at_any_thread_count(threads):
    from fmnist_lib import load_fashion_mnist

    data = load_fashion_mnist(download=False)
    policy.apply("softmax", threads)
    run = TrainingRun(default_config("softmax"), classes=data.classes)
    run.fit(data, test_every_epoch=False)
    assert round(run.test_acc, 4) == 0.8232

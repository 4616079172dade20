"""fmnist_lib.explain: one prediction step by step, checked against torch's own functions and autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fmnist_lib import TrainingRun, default_config
from fmnist_lib.explain import (
    FLOAT32_EXP_LIMIT,
    explain,
    predict_with_scaling,
    sgd_step,
    stability_demo,
    three_losses,
)
from fmnist_lib.scaling import STANDARDIZED
from tests.support.data import make_tiny_data


@pytest.fixture(scope="module")
def tiny():
    return make_tiny_data(n_train=128, n_test=16)


@pytest.fixture(scope="module")
def softmax_clf(tiny):
    run = TrainingRun(default_config("softmax", epochs=2, batch_size=32, lr=0.5))
    run.fit(tiny)
    return run.classifier()


@pytest.fixture(scope="module")
def cnn_clf(tiny):
    run = TrainingRun(default_config("cnn", epochs=1, batch_size=32))
    run.fit(tiny)
    return run.classifier()


def _autograd_logit_grad(clf, pixels, label):
    x = clf.scaling.apply(torch.as_tensor(pixels)[None])
    clf.model.eval()
    z = clf.model(x).detach().requires_grad_(True)
    F.cross_entropy(z, torch.tensor([label])).backward()
    return z.grad[0].numpy()


@pytest.mark.parametrize("which", ["softmax_clf", "cnn_clf"])
def test_logits_probs_loss_and_gradient_match_torch(request, tiny, which):
    clf = request.getfixturevalue(which)
    img, y = tiny.test_images[3], int(tiny.test_labels[3])
    ex = explain(clf, img, y)
    np.testing.assert_allclose(ex.logits, clf.logits(img)[0].numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(ex.probs, torch.softmax(torch.from_numpy(ex.logits), 0).numpy(), atol=1e-7)
    assert ex.pred == int(np.argmax(ex.logits))
    z = torch.from_numpy(ex.logits)[None]
    expected = float(F.cross_entropy(z, torch.tensor([y])))
    assert ex.loss == pytest.approx(expected, abs=1e-6)
    assert ex.losses["nll_log_softmax"] == pytest.approx(float(-F.log_softmax(z, 1)[0, y]), abs=1e-6)
    assert ex.losses["neg_log_softmax"] == pytest.approx(expected, abs=1e-5)
    np.testing.assert_allclose(ex.grad_logits, _autograd_logit_grad(clf, img, y), atol=1e-6)
    assert ex.grad_logits.sum() == pytest.approx(0.0, abs=1e-6)  # p sums to 1, onehot too
    assert (ex.evidence is None) == (which == "cnn_clf")


def test_softmax_evidence_sums_to_the_logits_and_weight_gradient_is_autograds(softmax_clf, tiny):
    img, y = tiny.test_images[5], int(tiny.test_labels[5])
    ex = explain(softmax_clf, img, y)
    np.testing.assert_allclose(ex.evidence.reshape(10, -1).sum(1) + ex.bias, ex.logits, atol=1e-4)
    model = softmax_clf.model
    model.zero_grad()
    F.cross_entropy(model(softmax_clf.scaling.apply(img[None])), torch.tensor([y])).backward()
    np.testing.assert_allclose(ex.grad_weights.reshape(10, 784), model.linear.weight.grad.numpy(), atol=1e-6)
    model.zero_grad(set_to_none=True)


def test_without_a_label_there_is_no_loss_or_gradient(softmax_clf, tiny):
    ex = explain(softmax_clf, tiny.test_images[0])
    assert ex.label is None and ex.loss is None and ex.grad_logits is None and ex.grad_weights is None
    out = ex.to_json()
    assert set(out) == {"label", "pred", "logits", "probs", "loss", "grad_logits"}
    assert out["loss"] is None and len(out["logits"]) == 10 and len(out["probs"]) == 10


def test_a_label_out_of_range_is_refused(softmax_clf, tiny):
    with pytest.raises(ValueError, match="class index"):
        explain(softmax_clf, tiny.test_images[0], 10)


def test_the_third_loss_is_infinite_where_softmax_underflows():
    z = torch.tensor([0.0, 800.0] + [0.0] * 8)  # p_0 = e^-800: 0 even in float64
    losses = three_losses(z, 0)
    assert losses["cross_entropy"] == pytest.approx(800.0)
    assert losses["nll_log_softmax"] == pytest.approx(800.0)
    assert losses["neg_log_softmax"] == float("inf")


def test_naive_softmax_overflows_past_88_7_and_the_stable_one_does_not():
    z = np.array([2.0, -1.0, 0.5, 3.0, 0.0, -2.0, 1.0, 0.0, -0.5, 1.5], dtype=np.float32)
    base = stability_demo(z, 0.0)
    assert not base.naive_broke
    np.testing.assert_allclose(base.naive, base.stable, atol=1e-7)
    np.testing.assert_allclose(base.stable, torch.softmax(torch.from_numpy(z), 0).numpy(), atol=1e-7)
    below = stability_demo(z, FLOAT32_EXP_LIMIT - 3.0 - 0.5)  # the largest logit just under the limit
    assert not below.naive_broke
    above = stability_demo(z, FLOAT32_EXP_LIMIT - 3.0 + 0.5)  # just over it
    assert above.naive_broke and np.isinf(above.exp_naive).any()
    np.testing.assert_allclose(above.stable, base.stable, atol=1e-6)
    assert above.log_sum_exp == pytest.approx(float(torch.logsumexp(torch.from_numpy(z), 0)) + above.shift, rel=1e-6)
    under = stability_demo(z, -200.0)  # every exp underflows to 0: 0 / 0
    assert under.naive_broke and (under.exp_naive == 0).all() and np.isnan(under.naive).all()
    np.testing.assert_allclose(under.stable, base.stable, atol=1e-6)


@pytest.mark.parametrize("which", ["softmax_clf", "cnn_clf"])
def test_one_sgd_step_changes_a_copy_and_never_the_model(request, tiny, which):
    clf = request.getfixturevalue(which)
    original = {k: v.clone() for k, v in clf.model.state_dict().items()}
    img, y = tiny.test_images[7], int(tiny.test_labels[7])
    step = sgd_step(clf, img, y, lr=0.05)
    for k, v in clf.model.state_dict().items():
        assert torch.equal(v, original[k]), f"{k} of the original model changed"
    assert step.after.loss < step.before.loss
    np.testing.assert_array_equal(step.before.logits, explain(clf, img, y).logits)


def test_the_sgd_step_is_minus_lr_times_the_gradient(softmax_clf, tiny):
    img, y = tiny.test_images[2], int(tiny.test_labels[2])
    lr = 0.3
    step = sgd_step(softmax_clf, img, y, lr)
    w = softmax_clf.model.linear.weight.detach().numpy()
    b = softmax_clf.model.linear.bias.detach().numpy()
    w_new = w - lr * step.before.grad_weights.reshape(10, 784)
    b_new = b - lr * step.before.grad_logits  # dL/db = p - onehot(y)
    np.testing.assert_allclose(step.after.logits, w_new @ step.before.x + b_new, atol=1e-4)


def test_the_tutorials_scaling_gives_other_logits_than_the_models_own(softmax_clf, tiny):
    img = tiny.test_images[1]
    wrong = predict_with_scaling(softmax_clf, img)
    x = STANDARDIZED.apply(img[None])
    np.testing.assert_allclose(wrong.logits[0].numpy(), softmax_clf.model(x)[0].detach().numpy(), atol=1e-5)
    assert not torch.allclose(wrong.logits, softmax_clf.predict(img).logits)


def test_the_three_losses_agree_to_the_digits_the_page_shows():
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        z = torch.randn(10, generator=g) * 6
        values = three_losses(z, int(torch.randint(0, 10, (1,), generator=g)))
        assert len({f"{v:.6f}" for v in values.values()}) == 1, values

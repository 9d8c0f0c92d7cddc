"""Every loss term and schedule against values computed by hand on tiny tensors."""
import math

import pytest
import torch

from i2i import losses
from i2i.training.ema import update_ema
from i2i.training.schedules import ds_weight, lr_factor, ramp_weight


def test_adversarial_loss_is_softplus():
    logits = torch.tensor([0.0, 2.0, -1.0])
    real = losses.adversarial_loss(logits, 1)
    fake = losses.adversarial_loss(logits, 0)
    sp = lambda v: math.log1p(math.exp(v))  # noqa: E731
    assert real.item() == pytest.approx((sp(0) + sp(-2) + sp(1)) / 3, rel=1e-6)
    assert fake.item() == pytest.approx((sp(0) + sp(2) + sp(-1)) / 3, rel=1e-6)
    assert real.item() == pytest.approx((math.log(2) + 0.126928011 + 1.313261687) / 3, rel=1e-6)
    masked = losses.adversarial_loss(logits, 0, mask=torch.tensor([False, True, True]))
    assert masked.item() == pytest.approx((sp(2) + sp(-1)) / 2, rel=1e-6)  # the mean over the kept rows only
    assert losses.adversarial_loss(logits, 0, mask=torch.zeros(3, dtype=torch.bool)).item() == 0.0


def test_r1_on_quadratic_discriminator():
    # D(x) = a * sum(x^2) per sample -> dD/dx = 2 a x -> R1 = 0.5 * mean_i sum (2 a x_i)^2
    a = 0.5
    x = torch.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    d = a * (x ** 2).sum(1)
    r1 = losses.r1_penalty(d, x)
    assert r1.item() == pytest.approx(0.5 * ((1 + 4) + (9 + 1)) / 2)  # (2a)^2 = 1
    (g,) = torch.autograd.grad(r1, x)  # differentiable (double backward): d/dx 0.5/2 * sum x^2 = x / 2
    assert torch.allclose(g, x.detach() / 2)


def test_l1_terms():
    s_pred, s_trg = torch.tensor([[1.0, -1.0]]), torch.tensor([[0.5, 1.0]])
    assert losses.style_reconstruction_loss(s_pred, s_trg).item() == pytest.approx((0.5 + 2.0) / 2)
    x_rec, x = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    assert losses.cycle_loss(x_rec, x).item() == pytest.approx(1.0)


def test_diversity_loss_detaches_second_output():
    x1 = torch.tensor([1.0, 3.0], requires_grad=True)
    x2 = torch.tensor([2.0, 1.0], requires_grad=True)
    ds = losses.diversity_loss(x1, x2)
    assert ds.item() == pytest.approx((1 + 2) / 2)
    ds.backward()
    assert x2.grad is None
    assert torch.allclose(x1.grad, torch.tensor([-0.5, 0.5]))


def test_triplet_loss_known_margin_cases():
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    p = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 1.0]])  # |a-p| = 5, 1, 1
    n = torch.tensor([[6.0, 8.0], [0.0, 1.05], [0.0, 2.0]])  # |a-n| = 10, 1.05, 2
    # per sample: max(5-10+0.1,0)=0, max(1-1.05+0.1,0)=0.05, max(1-2+0.1,0)=0
    assert losses.triplet_loss(a, p, n, margin=0.1).item() == pytest.approx(0.05 / 3)
    mask = torch.tensor([False, True, True])
    assert losses.triplet_loss(a, p, n, 0.1, mask).item() == pytest.approx(0.05 / 2)
    assert losses.triplet_loss(a, p, n, 0.1, torch.zeros(3, dtype=torch.bool)).item() == 0.0
    # Euclidean, not squared: a margin violation of exactly 0.5 with distances 3 and 2.6
    assert losses.triplet_loss(torch.zeros(1, 2), torch.tensor([[3.0, 0]]), torch.tensor([[0, 2.6]]),
                               margin=0.1).item() == pytest.approx(0.5)


def test_style_regularization_is_mean_of_squares():
    s_trg = torch.tensor([[1.0, 2.0], [0.0, 1.0]])  # mean of squares = (1+4+0+1)/4 = 1.5
    s_org = torch.tensor([[3.0, 1.0]])  # (9+1)/2 = 5
    assert losses.style_regularization(s_trg, s_org).item() == pytest.approx(6.5)


def test_content_loss_averages_lpips():
    class Fake(torch.nn.Module):
        def forward(self, a, b):
            return (a - b).abs().mean(dim=(1, 2, 3), keepdim=True)

    x = torch.zeros(2, 3, 4, 4)
    y = torch.stack([torch.full((3, 4, 4), 0.5), torch.full((3, 4, 4), 1.5)])
    assert losses.content_loss(Fake(), x, y).item() == pytest.approx(1.0)


def test_ds_decay_and_sr_ramp():
    assert ds_weight(0, 2.0, 100) == 2.0
    assert ds_weight(25, 2.0, 100) == pytest.approx(1.5)
    assert ds_weight(100, 2.0, 100) == 0.0
    assert ds_weight(150, 2.0, 100) == 0.0
    assert ramp_weight(39999, 1.0, 40000, 60000) == 0.0
    assert ramp_weight(40000, 1.0, 40000, 60000) == 0.0
    assert ramp_weight(70000, 1.0, 40000, 60000) == pytest.approx(0.5)
    assert ramp_weight(100000, 1.0, 40000, 60000) == 1.0
    assert ramp_weight(5, 2.0, 5, 0) == 2.0


def test_linear_learning_rate_decay():
    assert lr_factor(999, 1000, 0) == 1.0  # StarGAN v2: constant
    assert lr_factor(0, 1000, 500) == lr_factor(500, 1000, 500) == 1.0
    assert lr_factor(750, 1000, 500) == pytest.approx(0.5)
    assert lr_factor(999, 1000, 500) == pytest.approx(0.002)  # the last step still moves
    assert lr_factor(1200, 1000, 500) == 0.0  # past total_iters (a run extended on resume)


def test_optimisers_follow_the_decay_per_network():
    import types

    from i2i.training.trainer import set_learning_rates

    t = types.SimpleNamespace(lr=1e-3, f_lr=1e-5, total_iters=100, lr_decay_iters=40)
    optims = {name: torch.optim.Adam(torch.nn.Linear(1, 1).parameters(), lr=1.0)
              for name in ("generator", "mapping_network", "discriminator")}
    set_learning_rates(optims, t, 80)  # halfway through the decay
    assert {k: o.param_groups[0]["lr"] for k, o in optims.items()} == pytest.approx(
        {"generator": 5e-4, "mapping_network": 5e-6, "discriminator": 5e-4})


def test_ema_update():
    model, ema = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(1.0), model.bias.fill_(0.0)
        ema.weight.fill_(0.0), ema.bias.fill_(2.0)
    update_ema(model, ema, beta=0.9)
    assert ema.weight.item() == pytest.approx(0.1)  # 0.9 * 0 + 0.1 * 1
    assert ema.bias.item() == pytest.approx(1.8)  # 0.9 * 2 + 0.1 * 0

"""Metric functions checked against hand-computed values and direct reference computations (no downloads)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from i2i.evaluation.fid import FeatureStatistics, frechet_distance
from i2i.evaluation.frd import face_recognition_distance
from i2i.evaluation.lpips_diversity import all_pairs, lpips_diversity
from i2i.evaluation.perceptual import LPIPSDistance, PixelDistance
from i2i.evaluation.ps import gini, interpolation_alphas, perceptual_smoothness, sequence_distances
from i2i.pretrained import build_lpips


# --- Perceptual Smoothness -------------------------------------------------------------------------------

def authors_gini(array: np.ndarray) -> np.ndarray:
    """The authors' sorted-index Gini (metrics/ps.py of their repository), re-derived here as a reference."""
    a = np.sort(array + 1e-6, axis=1)
    n = a.shape[1]
    index = np.arange(1, n + 1)[None]
    return ((2 * index - n - 1) * a).sum(1) / (n * a.sum(1))


def test_gini_matches_sorted_formula_and_hand_values():
    d = torch.rand(5, 19, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    np.testing.assert_allclose(gini(d).numpy(), authors_gini(d.numpy()), rtol=1e-6)
    # [1, 2, 3]: sum_ij |di - dj| = 2 * (1 + 2 + 1) = 8; 2 T^2 mean = 2 * 9 * 2 = 36 (1e-6 shift negligible)
    assert gini(torch.tensor([1.0, 2.0, 3.0])).item() == pytest.approx(8 / 36, abs=1e-6)
    assert gini(torch.zeros(4)).item() == 0.0  # the 1e-6 shift avoids 0/0


def test_constant_steps_are_perfectly_smooth():
    r = perceptual_smoothness(torch.full((1, 19), 0.1), torch.tensor([1.9]))
    assert r.uniformity.item() == pytest.approx(1.0, abs=1e-6)
    assert r.alignment.item() == pytest.approx(1.0, abs=1e-6)
    assert r.ps.item() == pytest.approx(1.0, abs=1e-6)


def test_one_jump_gives_uniformity_near_zero():
    d = torch.zeros(1, 19)
    d[0, 7] = 1.0
    r = perceptual_smoothness(d, torch.tensor([1.0]))
    # values 1e-6 (x18) and 1 + 1e-6: sum_ij |di - dj| = 2 * 18; 2 T sum(d) = 38 * (1 + 19e-6)
    expected_uniformity = 1 - 36 / (38 * (1 + 19e-6))
    assert r.uniformity.item() == pytest.approx(expected_uniformity, rel=1e-6)
    assert r.uniformity.item() < 0.06
    assert r.ps.item() == pytest.approx(2 * expected_uniformity / (1 + expected_uniformity), rel=1e-6)


def test_detour_has_alignment_below_one_and_cap_at_one():
    r = perceptual_smoothness(torch.tensor([[0.5, 0.5], [0.2, 0.2]]), torch.tensor([0.5, 0.9]))
    assert r.alignment.tolist() == pytest.approx([0.5, 1.0])  # 0.5 / 1.0, and 0.9 / 0.4 capped at 1
    assert r.ps[0].item() == pytest.approx(2 * 0.5 * 1.0 / 1.5, rel=1e-6)


def test_frozen_sequence_scores_zero_not_nan():
    r = perceptual_smoothness(torch.zeros(2, 5), torch.zeros(2))
    assert r.ps.tolist() == [0.0, 0.0]


def test_perceptual_smoothness_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        perceptual_smoothness(torch.zeros(5), torch.zeros(5))


def test_interpolation_alphas():
    assert interpolation_alphas(5).tolist() == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    authors = interpolation_alphas(20, include_end=False)
    assert authors[0] == 0 and authors[-1].item() == pytest.approx(0.95) and len(authors) == 20


# --- LPIPS: features once, pairs in one call ---------------------------------------------------------------

@pytest.fixture(scope="module")
def lpips_net():
    net, provenance = build_lpips(random_weights=True)
    assert provenance == "random-weights"
    return net


def test_lpips_distance_equals_lpips_forward(lpips_net):
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(4, 3, 32, 32, generator=g) * 2 - 1, torch.rand(4, 3, 32, 32, generator=g) * 2 - 1
    expected = lpips_net(a, b).flatten()
    torch.testing.assert_close(LPIPSDistance(lpips_net)(a, b), expected, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(LPIPSDistance(lpips_net, "sqrt-lpips")(a, b), expected.sqrt(), rtol=1e-5, atol=1e-7)


def test_sequence_distances_match_pairwise_calls(lpips_net):
    frames = torch.rand(2, 5, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    steps, ends = sequence_distances(LPIPSDistance(lpips_net), frames)
    for n in range(2):
        expected = lpips_net(frames[n, :-1], frames[n, 1:]).flatten()
        torch.testing.assert_close(steps[n], expected, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(ends[n], lpips_net(frames[n, :1], frames[n, -1:]).flatten()[0],
                                   rtol=1e-5, atol=1e-7)


def test_pixel_distance_hand_values_and_a_straight_path_is_perfectly_smooth():
    a, b = torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4)
    b[1, :, :2] = 0  # half the pixels differ by 1
    assert PixelDistance()(a, b).tolist() == [1.0, 0.5]
    alphas = torch.linspace(0, 1, 5)[:, None, None, None]
    frames = (a[0] * (1 - alphas) + b[0] * alphas)[None]  # a linear ramp: equal steps, endpoint = path length
    steps, end = sequence_distances(PixelDistance(), frames)
    assert torch.allclose(steps, torch.full((1, 4), 0.25)) and end.item() == pytest.approx(1.0)
    assert perceptual_smoothness(steps, end).ps.item() == pytest.approx(1.0, abs=1e-5)


def test_lpips_diversity_is_mean_over_all_pairs(lpips_net):
    outs = torch.rand(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1
    got = lpips_diversity(LPIPSDistance(lpips_net), outs)
    for n in range(2):
        pairs = [lpips_net(outs[n, i:i + 1], outs[n, j:j + 1]).item() for i in range(4) for j in range(i + 1, 4)]
        assert len(pairs) == 6
        assert got[n].item() == pytest.approx(sum(pairs) / 6, rel=1e-5)
    assert [tuple(t.tolist()) for t in all_pairs(3)] == [(0, 0, 1), (1, 2, 2)]


# --- FID ---------------------------------------------------------------------------------------------------

def scipy_frechet(mu1, s1, mu2, s2):
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_frechet_distance_matches_scipy():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 16)), rng.normal(0.3, 1.2, size=(300, 16))
    args = (x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    assert frechet_distance(*args) == pytest.approx(scipy_frechet(*args), rel=1e-9)
    assert frechet_distance(args[0], args[1], args[0], args[1]) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_singular_covariances_stay_real_and_close_to_scipy():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 32)), rng.normal(size=(9, 32))  # fewer samples than dimensions
    args = (x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    value = frechet_distance(*args)
    assert np.isfinite(value) and value > 0
    assert value == pytest.approx(scipy_frechet(*args), rel=1e-4)


def test_feature_statistics_stream_equals_numpy():
    f = torch.randn(50, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    stats = FeatureStatistics()
    for chunk in f.split(7):
        stats.add(chunk)
    mu, cov = stats.mean_cov()
    np.testing.assert_allclose(mu, f.numpy().mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(f.numpy(), rowvar=False), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        FeatureStatistics().mean_cov()


# --- FRD ---------------------------------------------------------------------------------------------------

def test_face_recognition_distance_hand_values():
    src = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    outs = torch.tensor([[[0.0, 1.0], [1.0, 0.0]], [[0.6, 0.8], [0.0, -1.0]]])
    # ||(1,0)-(0,1)||^2 = 2, 0; ||(0,1)-(0.6,0.8)||^2 = 0.36 + 0.04 = 0.4, ||(0,1)-(0,-1)||^2 = 4
    torch.testing.assert_close(face_recognition_distance(src, outs), torch.tensor([[2.0, 0.0], [0.4, 4.0]]))

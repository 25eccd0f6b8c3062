import numpy as np
import pytest
import torch

from sgdnoise.potentials import CurvedDoubleWell, DoubleWell, Quadratic, SharpFlatWells, StrictSaddle

POTENTIALS = [Quadratic([[2.0, 0.5], [0.5, 1.0]], center=[0.3, -0.2]), DoubleWell(), DoubleWell(0.5, tilt=0.3),
              SharpFlatWells(0.5, 16.0, 4.0), StrictSaddle(1.0, 0.5), CurvedDoubleWell(4.0, 0.5)]


@pytest.mark.parametrize("u", POTENTIALS, ids=repr)
def test_gradient_and_hessian_match_finite_differences(u):
    rng = np.random.default_rng(0)
    w = rng.uniform(-1.5, 1.5, size=(7, u.dim))
    w[np.abs(w) < 0.05] = 0.3   # keep away from the kink of SharpFlatWells' second derivative
    h = 1e-6
    eye = np.eye(u.dim)
    num_grad = np.stack([(u.value(w + h * e) - u.value(w - h * e)) / (2 * h) for e in eye], 1)
    np.testing.assert_allclose(u.grad(w), num_grad, rtol=1e-6, atol=1e-6)
    num_hess = np.stack([(u.grad(w + h * e) - u.grad(w - h * e)) / (2 * h) for e in eye], 2)
    np.testing.assert_allclose(u.hessian(w), num_hess, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("u", POTENTIALS, ids=repr)
def test_torch_matches_numpy_and_step_is_a_gradient_step(u):
    w = np.random.default_rng(1).uniform(-1.2, 1.2, size=(5, u.dim))
    wt = torch.as_tensor(w)
    np.testing.assert_allclose(u.value(wt).numpy(), u.value(w), rtol=1e-12)
    out = torch.empty_like(wt)
    assert u.grad(wt, out=out) is out
    np.testing.assert_allclose(out.numpy(), u.grad(w), rtol=1e-12)
    np.testing.assert_allclose(u.hessian(wt).numpy(), u.hessian(w), rtol=1e-12)
    inc = torch.full_like(wt, 0.01)
    stepped = u.step_(wt.clone(), 0.1, torch.empty_like(wt), inc)
    np.testing.assert_allclose(stepped.numpy(), w - 0.1 * u.grad(w) + 0.01, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(u.step_(wt.clone(), 0.1, torch.empty_like(wt)).numpy(), w - 0.1 * u.grad(w),
                               rtol=1e-12, atol=1e-14)


def test_double_well_critical_points_and_curvatures():
    u = DoubleWell()
    a, b, c = u.critical_points()
    assert (a, b, c) == pytest.approx((-1.0, 0.0, 1.0), abs=1e-12)
    assert u.hessian(np.array([[a], [b]]))[:, 0, 0].tolist() == pytest.approx([8.0, -4.0])
    tilted = DoubleWell(1.0, tilt=0.5)
    pts = np.array(tilted.critical_points())[:, None]
    np.testing.assert_allclose(tilted.grad(pts), 0.0, atol=1e-12)


def test_sharp_flat_wells_equal_depth_and_basin_hessian():
    u = SharpFlatWells(depth=0.5, curvature_left=16.0, curvature_right=4.0)
    w = np.array([[u.minima[0]], [0.0], [u.minima[1]]])
    assert u.value(w).tolist() == pytest.approx([0.0, 0.5, 0.0])
    assert u.basin_hessian(np.array([[-0.1], [0.1]]))[:, 0, 0].tolist() == [16.0, 4.0]
    assert u.hessian(np.array([[-1e-9], [1e-9]]))[:, 0, 0].tolist() == pytest.approx([-8.0, -2.0])


def test_bad_inputs():
    with pytest.raises(ValueError, match="hessian"):
        Quadratic([[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="center"):
        Quadratic(np.eye(2), center=[1.0])
    with pytest.raises(ValueError, match="tilt"):
        DoubleWell(1.0, tilt=2.0)
    with pytest.raises(ValueError, match="height"):
        DoubleWell(-1.0)
    with pytest.raises(ValueError, match="curvature_left"):
        SharpFlatWells(1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="gamma"):
        StrictSaddle(1.0, -1.0)
    with pytest.raises(ValueError, match="w must have shape"):
        DoubleWell().value(np.zeros((3, 2)))

"""The f-divergence pairs of the DICE objectives (Prop. 4.1)."""
import jax
import jax.numpy as jnp
import pytest

from algorithms.fdiv import F_DIVERGENCES, get_f_divergence

NAMES = sorted(F_DIVERGENCES)


@pytest.fixture(autouse=True)
def _float64():
    # the identities are checked to 1e-9, beyond float32
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize("name", NAMES)
def test_conjugate_is_the_sup_over_nonnegative_ratios(name):
    fd = get_f_divergence(name)
    t = jnp.linspace(0, 30, 300_001, dtype=jnp.float64)
    assert t.dtype == jnp.float64
    ft = fd.f(t)
    for y in [-4.0, -1.5, -1.0, -0.3, 0.0, 0.4, 1.0, 2.5]:
        brute = (t * y - ft).max()
        closed = fd.conjugate(jnp.asarray(y, jnp.float64))
        assert float(closed) == pytest.approx(float(brute), abs=1e-4), (name, y)


@pytest.mark.parametrize("name", NAMES)
def test_f_prime_inverse_inverts_f_prime(name):
    fd = get_f_divergence(name)
    x = jnp.linspace(0.05, 6, 200, dtype=jnp.float64)
    assert jnp.allclose(fd.f_prime_inv(fd.f_prime(x)), x, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_ratio_is_the_gradient_of_the_conjugate(name):
    # Prop. 4.1: d f*(y)/dy = w*(y) = max(0, f'^-1(y)), the occupancy ratio
    fd = get_f_divergence(name)
    y = jnp.linspace(-5, 3, 101, dtype=jnp.float64)
    grad = jax.grad(lambda v: fd.conjugate(v).sum())(y)
    assert jnp.allclose(grad, fd.ratio(y), atol=1e-9)
    assert (fd.ratio(y) >= 0).all()


def test_unknown_f_divergence_names_valid_ones():
    with pytest.raises(ValueError, match="soft_chi2"):
        get_f_divergence("hellinger")

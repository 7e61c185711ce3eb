"""f-divergences for the DICE objectives: f, f', (f')^-1 and the conjugate f*.

The conjugate is restricted to non-negative ratios, as in Prop. 4.1 of the paper:
f*(y) = sup_{t >= 0} (t y - f(t)), attained at w*(y) = max(0, (f')^-1(y)), so
f*(y) = w*(y) y - f(w*(y)) and d f*/dy = w*(y).

- ``kl``:            f(x) = x log x                 (f')^-1(y) = exp(y - 1)
- ``chi2``:          f(x) = (x - 1)^2 / 2           (f')^-1(y) = y + 1
- ``soft_chi2``:     f(x) = x log x - x + 1 (x < 1), (x - 1)^2 / 2 (x >= 1)
                     (f')^-1(y) = exp(y) (y < 0), y + 1 (y >= 0)     [OptiDICE, Lee et al. 2021]
Soft chi-square is the paper's default (Sec. 6 and appendix).
"""
from __future__ import annotations

import jax.numpy as jnp
from jax.scipy.special import xlogy


class FDivergence:
    name = ""

    def f(self, x):
        raise NotImplementedError

    def f_prime(self, x):
        raise NotImplementedError

    def f_prime_inv(self, y):
        raise NotImplementedError

    def ratio(self, y):
        """w*(y) = max(0, (f')^-1(y))."""
        return jnp.maximum(self.f_prime_inv(y), 0.0)

    def conjugate(self, y):
        """f*(y) = sup_{t>=0} t y - f(t), written in closed form by each subclass."""
        w = self.ratio(y)
        return w * y - self.f(w)


class KL(FDivergence):
    name = "kl"

    def f(self, x):
        return xlogy(x, x)

    def f_prime(self, x):
        return jnp.log(x) + 1

    def f_prime_inv(self, y):
        return jnp.exp(y - 1)

    def conjugate(self, y):
        return jnp.exp(y - 1)


class ChiSquare(FDivergence):
    name = "chi2"

    def f(self, x):
        return 0.5 * (x - 1) ** 2

    def f_prime(self, x):
        return x - 1

    def f_prime_inv(self, y):
        return y + 1

    def conjugate(self, y):
        # t* = max(0, y + 1): y >= -1 gives y^2/2 + y, otherwise t* = 0 gives -f(0) = -1/2
        return jnp.where(y >= -1, 0.5 * y ** 2 + y, -0.5)


class SoftChiSquare(FDivergence):
    name = "soft_chi2"

    def f(self, x):
        return jnp.where(x < 1, xlogy(x, x) - x + 1, 0.5 * (x - 1) ** 2)

    def f_prime(self, x):
        return jnp.where(x < 1, jnp.log(x), x - 1)

    def f_prime_inv(self, y):
        return jnp.where(y < 0, jnp.exp(jnp.minimum(y, 0.0)), y + 1)

    def conjugate(self, y):
        return jnp.where(y < 0, jnp.exp(jnp.minimum(y, 0.0)) - 1, 0.5 * y ** 2 + y)


F_DIVERGENCES = {c.name: c for c in (KL, ChiSquare, SoftChiSquare)}


def get_f_divergence(name: str) -> FDivergence:
    try:
        return F_DIVERGENCES[name]()
    except KeyError:
        raise ValueError(f"unknown f-divergence {name!r}; valid: {', '.join(F_DIVERGENCES)}") from None

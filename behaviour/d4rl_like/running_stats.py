"""Running statistics the D4RL-like behaviour learners normalise with, in float64.

``RunningMeanVar``: the running mean and variance of a stream of samples (Welford's algorithm), one
class for both learners: ARS normalises the global state it acts on by the
states it has visited (a vector per sample), MAPPO scales MaMuJoCo rewards by the running
variance of the discounted return (a scalar per sample).  A batch of samples is folded in at
once with Chan, Golub and LeVeque's pairwise combination (the batch's own count, mean and m2
merged with the running ones; equal to folding the samples in one by one, Welford's update, up
to rounding), so a run and its resumed continuation, given the same batches, see the same
numbers.

``ValueNorm``: HARL's exponential-moving-average normaliser of MAPPO's value targets.
"""
from __future__ import annotations

import math

import numpy as np


class RunningMeanVar:
    """Mean and sum of squared deviations (``m2``) of the samples seen so far, each sample of
    ``shape`` (``()``: scalars); ``state`` / ``set_state`` carry them through a resume file."""

    def __init__(self, shape=()):
        self.n, self.mean, self.m2 = 0, np.zeros(shape), np.zeros(shape)
        self.shape = self.mean.shape

    def update(self, samples) -> None:
        """Fold in ``samples``: one sample of ``shape`` or a batch of them (leading axes)."""
        x = np.reshape(np.asarray(samples, np.float64), (-1,) + self.shape)
        k = x.shape[0]
        if k == 0:
            return
        mean_b = x.mean(0)
        m2_b = np.square(x - mean_b).sum(0)
        n = self.n + k
        d = mean_b - self.mean
        self.mean = np.asarray(self.mean + d * (k / n)).reshape(self.shape)
        self.m2 = np.asarray(self.m2 + m2_b + np.square(d) * (self.n * k / n)).reshape(self.shape)
        self.n = n

    def update_sequential(self, samples) -> None:
        """Welford's one-sample-at-a-time update (the reference :meth:`update` is tested against)."""
        for x in np.reshape(samples, (-1,) + self.shape):
            self.n += 1
            d = x - self.mean
            self.mean = self.mean + d / self.n
            self.m2 = self.m2 + d * (x - self.mean)

    def var(self, ddof: int = 0):
        """``m2 / (n - ddof)``; 1 until two samples have been seen."""
        return self.m2 / max(self.n - ddof, 1) if self.n > 1 else np.ones_like(self.mean)

    def std(self, ddof: int = 0, eps: float = 0.0):
        """``sqrt(var) + eps``; 1 (without ``eps``) until two samples have been seen."""
        return np.sqrt(self.m2 / max(self.n - ddof, 1)) + eps if self.n > 1 else np.ones_like(self.mean)

    def state(self) -> tuple:
        """``(n, mean, m2)``: what a resume file keeps."""
        return self.n, self.mean, self.m2

    def set_state(self, state) -> None:
        """Put back a ``state()`` tuple (also those of resume files written before this class,
        whose scalar mean and m2 are Python or numpy floats)."""
        n, mean, m2 = state
        self.n = int(n)
        self.mean = np.array(mean, np.float64).reshape(self.shape)
        self.m2 = np.array(m2, np.float64).reshape(self.shape)


class ValueNorm:
    """HARL's ValueNorm (harl/common/valuenorm.py), in float64: exponential moving averages
    (``beta`` per update) of the returns' mean and mean square, debiased; the variance clamped at
    1e-2.  The critic predicts normalised returns; ``state``/``set_state`` for resume files."""

    def __init__(self, beta: float = 0.99999, eps: float = 1e-5):
        self.beta, self.eps = beta, eps
        self.mean = self.mean_sq = self.debias = 0.0

    def update(self, x) -> None:
        """Fold in the batch of returns ``x`` (a torch tensor)."""
        x = x.detach().double()
        self.mean = self.mean * self.beta + float(x.mean()) * (1 - self.beta)
        self.mean_sq = self.mean_sq * self.beta + float((x ** 2).mean()) * (1 - self.beta)
        self.debias = self.debias * self.beta + (1 - self.beta)

    def _mean_std(self):
        d = max(self.debias, self.eps)
        mean = self.mean / d
        return mean, math.sqrt(max(self.mean_sq / d - mean ** 2, 1e-2))

    def normalize(self, x):
        mean, std = self._mean_std()
        return (x - mean) / std

    def denormalize(self, x):
        mean, std = self._mean_std()
        return x * std + mean

    def state(self) -> tuple:
        return self.mean, self.mean_sq, self.debias

    def set_state(self, state) -> None:
        self.mean, self.mean_sq, self.debias = (float(v) for v in state)

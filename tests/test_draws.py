"""The learners' index draws (``algorithms/base.py`` Draws.categorical / multinomial): the law
they sample, and never an action of probability zero, whatever the uniform's rounding."""
import jax
import jax.numpy as jnp
import numpy as np

from algorithms.base import Draws, inverse_cdf_index
from algorithms.networks import masked_logits

PROBS = np.array([[0.0, 0.2, 0.0, 0.5, 0.3, 0.0],    # zeros first, between and last
                  [0.6, 0.0, 0.0, 0.0, 0.0, 0.4],
                  [0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
                  [0.1, 0.1, 0.1, 0.3, 0.2, 0.2]], np.float32)


def test_multinomial_draws_each_row_by_its_probabilities():
    n = 40_000
    idx = np.asarray(Draws(jax.random.PRNGKey(0)).multinomial(jnp.asarray(PROBS), n))
    assert idx.shape == (len(PROBS), n) and idx.dtype == np.int32
    for row, p in zip(idx, PROBS):
        freq = np.bincount(row, minlength=p.size) / n
        sigma = np.sqrt(p * (1 - p) / n)
        assert np.all(np.abs(freq - p) <= 5 * sigma + 1e-12), (freq, p)


def test_categorical_draws_softmax_of_the_masked_logits():
    logits = jnp.asarray([[1.0, 2.0, -0.5, 0.3]] * 3)
    avail = jnp.asarray([[True, False, True, True]] * 3)
    masked = masked_logits(logits, avail)
    idx = np.asarray(Draws(jax.random.PRNGKey(1)).categorical(masked, (20_000,)))
    assert idx.shape == (20_000, 3)
    p = np.asarray(jax.nn.softmax(masked, -1))[0]
    freq = np.bincount(idx.ravel(), minlength=4) / idx.size
    assert freq[1] == 0
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / idx.size) + 1e-12), (freq, p)


def test_no_index_of_probability_zero_at_the_ends_of_the_uniform():
    below_one = np.float32(1) - np.float32(2.0 ** -24)
    u = jnp.asarray([0.0, 1e-30, 0.2, 0.5, 0.999, below_one], jnp.float32)
    for scale in (1.0, 0.3, 7.0):  # unnormalised rows: the cumulative sum's last entry rounds anywhere
        p = jnp.asarray(PROBS * scale)
        idx = np.asarray(inverse_cdf_index(u[:, None], p))                 # [6, rows]
        assert np.all(np.take_along_axis(PROBS, idx.T, 1) > 0), idx
    # the inverse of the cumulative distribution: u = 0 gives the first index of positive
    # probability, u -> 1 the last
    idx = np.asarray(inverse_cdf_index(u[:, None], jnp.asarray(PROBS)))
    cdf = np.cumsum(PROBS, -1)
    expect = [[np.searchsorted(c, x * c[-1], side="right") for c in cdf] for x in np.asarray(u)]
    assert idx.tolist() == expect
    assert idx[0].tolist() == [1, 0, 4, 0] and idx[-1].tolist() == [4, 5, 4, 5]

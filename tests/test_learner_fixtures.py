"""Every learner's update equals the eager PyTorch learner it replaced, update by update.

The fixtures (``tests/data/learner_fixtures``, made by ``tests/record_learner_fixtures.py`` from
the PyTorch learners that were checked against the authors' code) hold initial weights, 50
batches, the random numbers each update drew, the metrics of every update and the weights after
50 updates.  Here the learner starts from those weights, replays those batches and draws, and
must end within ten times the float32 rounding of the recorded run (its float32-float64 gap).
"""
from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algorithms import algorithm_class, make
from algorithms.base import Batch, Draws, Learner, LearnerSpec

FIXTURES = sorted((Path(__file__).parent / "data" / "learner_fixtures").glob("*.npz"))


class ReplayDraws(Draws):
    """Draws that return a recorded run's random numbers in order (shapes checked)."""

    def __init__(self, values: list):
        super().__init__(None)
        self.values = list(values)

    def _pop(self, shape, what):
        if not self.values:
            raise AssertionError(f"the update draws more {what} numbers than the recorded one did")
        v = self.values.pop(0)
        if tuple(v.shape) != tuple(shape):
            raise AssertionError(f"{what} draw of shape {tuple(shape)}, the recorded one was {tuple(v.shape)}")
        return v

    def normal(self, shape):
        return self._pop(shape, "normal").astype(jnp.float32)

    def uniform(self, shape):
        return self._pop(shape, "uniform").astype(jnp.float32)

    def categorical(self, logits, sample_shape=()):
        return self._pop(tuple(sample_shape) + logits.shape[:-1], "categorical").astype(jnp.int32)

    def multinomial(self, probs, n):
        return self._pop((probs.shape[0], n), "multinomial").astype(jnp.int32)


def load_fixture(path: Path) -> dict:
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    group = lambda prefix: {k[len(prefix) + 1:]: v for k, v in arrays.items() if k.startswith(prefix + "/")}
    n = meta["n_updates"]
    batches = [group(f"batch/{k}") for k in range(n)]
    noise = [[v for _, v in sorted(group(f"noise/{k}").items(), key=lambda kv: int(kv[0]))] for k in range(n)]
    return {"meta": meta, "init": group("init"), "final": group("final32"), "gap": group("gap64"),
            "metrics": group("metrics"), "metrics64": group("metrics64"), "batches": batches, "noise": noise}


def as_batch(b: dict) -> Batch:
    conv = {k: jnp.asarray(v, jnp.int32) if v.dtype.kind in "iu" else jnp.asarray(v) for k, v in b.items()}
    return Batch(**conv)


def replay(learner, params: dict, fx: dict):
    """The learner's state and metrics after replaying the fixture's updates."""
    state = learner.init(jax.random.PRNGKey(0))._replace(params=params)
    step = jax.jit(lambda s, b, noise: learner.step(s, b, ReplayDraws(noise)))
    metrics = []
    for b, noise in zip(fx["batches"], fx["noise"], strict=False):
        state, m = step(state, as_batch(b), [jnp.asarray(v) for v in noise])
        metrics.append({k: float(v) for k, v in m.items()})
    return state, metrics


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_update_equals_the_recorded_pytorch_learner(path):
    fx = load_fixture(path)
    meta = fx["meta"]
    if not issubclass(algorithm_class(meta["algorithm"]), Learner):
        pytest.skip(f"{meta['algorithm']} is still an eager PyTorch learner")
    learner = make(meta["algorithm"], LearnerSpec(**meta["spec"]), meta["hyperparameters"])
    state, metrics = replay(learner, learner.params_from_state_dict(fx["init"]), fx)
    tol = 10 * max(float(g) for g in fx["gap"].values())
    worst = max(fx["final"], key=lambda k: float(np.abs(np.asarray(state.params[k]) - fx["final"][k]).max()))
    err = float(np.abs(np.asarray(state.params[worst]) - fx["final"][worst]).max())
    assert err <= tol, f"{path.stem}: {worst} is {err:.3g} from the recorded learner's (tolerance {tol:.3g})"
    for name, recorded in fx["metrics"].items():
        ours = np.array([m[name] for m in metrics])
        m_tol = 10 * np.abs(recorded - fx["metrics64"][name]).max() + 1e-6 * np.abs(recorded).max()
        assert np.abs(ours - recorded).max() <= m_tol, (name, np.abs(ours - recorded).max(), m_tol)

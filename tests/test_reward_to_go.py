"""Reward-to-go per learner: OMIGA trains on the undiscounted reward-to-go on SMAC (discrete
actions) by default, as its authors' SMAC loader (OMIGA branch SMAC, framework/utils.py
get_episode) and the ComaDICE code's (runner/utils.py) do, and on raw rewards on MaMuJoCo;
AlberDICE (no authors' SMAC code) keeps raw rewards unless asked.  ICQ's authors' SMAC code
(YiqinYang/ICQ, ICQ-MA) trains on raw rewards with TD(lambda): no option."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algorithms import make
from algorithms.base import Draws
from envs.dataset import from_episodes
from harness.data import batch_at, device_data, spec_from_dataset


def two_step(discrete: bool, n=16):
    rng = np.random.default_rng(0)
    eps = []
    for _ in range(n):
        obs = rng.normal(size=(3, 2, 3)).astype(np.float32)
        acts = rng.integers(0, 2, size=(2, 2)) if discrete else rng.uniform(-1, 1, size=(2, 2, 1))
        e = dict(obs=obs, state=obs.reshape(3, -1), actions=acts, reward=np.array([1.0, 2.0]), terminated=True)
        if discrete:
            e["avail"] = np.ones((3, 2, 2), bool)
        eps.append(e)
    meta = {"suite": "test", "task": "test", "quality": "q", "backend": "none",
            "action_type": "discrete" if discrete else "continuous"}
    return from_episodes(eps, meta)


def _all_rows(ds):
    rows = jnp.arange(ds.n_transitions)
    return batch_at(device_data(ds), rows, rows)


def first_q_loss(name, ds, **hp):
    learner = make(name, spec_from_dataset(ds), {"hidden": 16, **hp})
    _, out = learner.update(learner.init(jax.random.PRNGKey(0)), _all_rows(ds), Draws(jax.random.PRNGKey(1)))
    return float(out.get("q_loss", out.get("nu_loss")))


def test_the_batch_carries_the_undiscounted_reward_to_go():
    rows = jnp.arange(4)
    b = batch_at(device_data(two_step(True)), rows, rows)
    assert b.reward.tolist() == [1.0, 2.0, 1.0, 2.0] and b.reward_to_go.tolist() == [3.0, 2.0, 3.0, 2.0]


def test_omiga_uses_the_reward_to_go_on_smac_only():
    assert make("OMIGA", spec_from_dataset(two_step(True))).cfg.reward_to_go == "smac"
    d = two_step(True)
    assert first_q_loss("OMIGA", d) != pytest.approx(first_q_loss("OMIGA", d, reward_to_go="never"))
    assert first_q_loss("OMIGA", d) == pytest.approx(first_q_loss("OMIGA", d, reward_to_go="always"))
    c = two_step(False)
    assert first_q_loss("OMIGA", c) == pytest.approx(first_q_loss("OMIGA", c, reward_to_go="never"))
    assert first_q_loss("OMIGA", c) != pytest.approx(first_q_loss("OMIGA", c, reward_to_go="always"))
    with pytest.raises(ValueError, match="reward_to_go must be one of"):
        make("OMIGA", spec_from_dataset(d), {"reward_to_go": "yes"})


def test_alberdice_keeps_raw_rewards_unless_asked():
    d = two_step(True)
    assert make("AlberDICE", spec_from_dataset(d)).cfg.reward_to_go == "never"
    assert first_q_loss("AlberDICE", d) != pytest.approx(first_q_loss("AlberDICE", d, reward_to_go="smac"))
    assert "reward_to_go" not in make("ICQ", spec_from_dataset(d)).cfg.__dataclass_fields__

"""MaMuJoCo observations: the paper's layout by default (full state + one-hot id, standardised
per vector), local agent_obsk=1 observations as a named option, the layout recorded in every
dataset, a dataset of one layout refused for a task configured with the other (naming both),
and the evaluation env giving the learner the dataset's observation."""
import dataclasses

import numpy as np
import pytest

from behaviour.datasets import in_task_layout, mamujoco_dataset, play_episodes
from tasks.dataset import DatasetError, check_against_task, from_episodes
from tasks.mamujoco_backend import MaMuJoCoVectorEnv, authors_observation
from tasks.registry import get_task


def test_the_default_is_the_authors_layout_and_local_is_an_option(monkeypatch):
    for name, state, n in (("Hopper_3x1", 11, 3), ("Ant_2x4", 105, 2), ("HalfCheetah_6x1", 17, 6)):
        task = get_task(name)
        assert task.obs_layout == "authors" and task.obs_dim == state + n and task.state_dim == state
        local = get_task(name, obs_layout="local")
        assert local.obs_layout == "local" and local.obs_dim == {3: 9, 2: 63, 6: 9}[n]
    monkeypatch.setenv("COMADICE_MAMUJOCO_OBS", "local")
    assert get_task("Hopper_3x1").obs_layout == "local"
    monkeypatch.setenv("COMADICE_MAMUJOCO_OBS", "global")
    with pytest.raises(ValueError, match="authors, local"):
        get_task("Hopper_3x1")
    assert get_task("5m_vs_6m").obs_layout == "native"


def test_authors_observation_is_standardised_per_vector():
    state = np.array([0.5, -2.0, 3.0, 0.0])
    obs = authors_observation(state, 3)
    assert obs.shape == (3, 7)
    for i in range(3):
        x = np.concatenate([state, np.eye(3)[i]])
        np.testing.assert_allclose(obs[i], (x - x.mean()) / x.std(), rtol=1e-6)   # numpy's std: ddof 0
    np.testing.assert_allclose(obs.mean(-1), 0, atol=1e-6)
    np.testing.assert_allclose(obs.std(-1), 1, atol=1e-6)


def test_the_env_gives_each_layout():
    task = get_task("Hopper_3x1")
    obs, state, _ = MaMuJoCoVectorEnv(task, 2, seed=0).reset()
    assert obs.shape == (2, 3, 14)
    np.testing.assert_allclose(obs, authors_observation(state, 3), rtol=1e-5)
    venv = MaMuJoCoVectorEnv(task, 1, seed=0)
    venv.reset()
    raw = venv.envs[0].unwrapped.single_agent_env.unwrapped._get_obs()   # the full MuJoCo observation
    np.testing.assert_allclose(venv.state[0], raw, rtol=1e-6)
    lobs, lstate, _ = MaMuJoCoVectorEnv(get_task("Hopper_3x1", obs_layout="local"), 2, seed=0).reset()
    assert lobs.shape == (2, 3, 9)
    np.testing.assert_allclose(lstate, state)                           # same physics, same seed


def _episodes(task, n=2, steps=5):
    venv = MaMuJoCoVectorEnv(dataclasses.replace(task, episode_limit=steps), n, seed=0)
    return play_episodes(dataclasses.replace(task, episode_limit=steps), venv,
                         lambda o, a: np.zeros((n, task.n_agents, task.action_dim)), n)


def test_datasets_record_the_layout_and_the_other_is_refused():
    authors, local = get_task("Hopper_3x1"), get_task("Hopper_3x1", obs_layout="local")
    zero = {"iteration": 0, "weights": np.zeros((3, 11)), "mean": np.zeros(11), "std": np.ones(11), "return": 0.0}
    run = {"checkpoints": [zero, {**zero, "iteration": 1, "return": 1.0}, {**zero, "iteration": 2, "return": 2.0}],
           "rollouts": []}
    for task in (authors, local):
        ds = mamujoco_dataset(dataclasses.replace(task, episode_limit=20), "expert", run, 2)
        assert ds.meta["obs_layout"] == task.obs_layout and ds.obs.shape[2] == task.obs_dim
        check_against_task(ds, task)
    meta = {"suite": "mamujoco", "task": "Hopper_3x1", "quality": "expert", "backend": "mamujoco",
            "action_type": "continuous"}
    ds_local = from_episodes(_episodes(local), {**meta, "obs_layout": "local"})
    with pytest.raises(DatasetError, match="observation layout 'local', the task is configured with 'authors'"):
        check_against_task(ds_local, authors)
    # same width, other layout (a task whose local observation happened to be as wide): still refused
    ds_fake = from_episodes(_episodes(authors), {**meta, "obs_layout": "local"})
    with pytest.raises(DatasetError, match="layout 'local'.*'authors'"):
        check_against_task(ds_fake, authors)
    ds_authors = from_episodes(_episodes(authors), {**meta, "obs_layout": "authors"})
    with pytest.raises(DatasetError, match="layout 'authors', the task is configured with 'local'"):
        check_against_task(ds_authors, local)


def test_behaviour_episodes_get_the_tasks_layout():
    authors, local = get_task("Hopper_3x1"), get_task("Hopper_3x1", obs_layout="local")
    eps = _episodes(local)                       # a behaviour policy that acted on local observations
    out = in_task_layout(authors, eps, "local")
    for e in out:
        np.testing.assert_allclose(e["obs"], authors_observation(e["state"], 3), rtol=1e-6)
    with pytest.raises(ValueError, match="cannot be rebuilt"):
        in_task_layout(local, _episodes(authors), "authors")


def test_the_raw_state_is_recovered_from_the_authors_observation():
    from tasks.mamujoco_backend import state_from_authors_observation

    rng = np.random.default_rng(0)
    for n in (2, 3, 6):
        state = rng.normal(scale=3.0, size=(5, 17))
        np.testing.assert_allclose(state_from_authors_observation(authors_observation(state, n), n), state,
                                   rtol=1e-4, atol=1e-4)

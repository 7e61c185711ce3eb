"""MaMuJoCo observations: the paper's layout by default (full state + one-hot id, standardised
per vector), local agent_obsk=1 observations as a named option, the layout recorded in every
dataset, a dataset of one layout refused for a task configured with the other (naming both),
and the evaluation env giving the learner the dataset's observation."""
import dataclasses
import json

import numpy as np
import pytest

from behaviour.d4rl_like.datasets import in_task_layout, mamujoco_from_ars
from behaviour.episodes import play_episodes
from envs.dataset import from_episodes
from envs.dataset_checks import DatasetError, check_against_task
from envs.mamujoco_backend import MaMuJoCoVectorEnv, authors_observation
from envs.registry import get_task


def test_the_default_is_the_authors_layout_and_local_is_an_option(monkeypatch):
    for name, state, n in (("Hopper_3x1", 11, 3), ("Ant_2x4", 105, 2), ("HalfCheetah_6x1", 17, 6)):
        task = get_task(name)
        assert task.obs_layout == "authors" and task.obs_dim == state + n and task.state_dim == state
        local = get_task(name, obs_layout="local")
        assert local.obs_layout == "local" and local.obs_dim == {3: 9, 2: 63, 6: 9}[n]
        assert get_task(name, simulators={"mamujoco_obs": "local"}) == local      # the config's key
    with pytest.raises(ValueError, match="simulators.mamujoco_obs must be one of authors, local"):
        get_task("Hopper_3x1", simulators={"mamujoco_obs": "global"})
    with pytest.raises(ValueError, match="only its native observation"):
        get_task("5m_vs_6m", obs_layout="local")
    assert get_task("5m_vs_6m", simulators={"mamujoco_obs": "local"}).obs_layout == "native"


def test_no_environment_variable_sets_the_observation_layout(monkeypatch):
    """The layout comes from the caller or the config (simulators.mamujoco_obs), never from
    the environment: the variable earlier versions read changes nothing."""
    monkeypatch.setenv("COMADICE_MAMUJOCO_OBS", "local")
    assert get_task("Hopper_3x1").obs_layout == "authors"
    assert get_task("Hopper_3x1", simulators={"mamujoco_obs": "local"}).obs_layout == "local"


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
        ds = mamujoco_from_ars(dataclasses.replace(task, episode_limit=20), "expert", run, 2)
        assert ds.meta["obs_layout"] == task.obs_layout and ds.obs.shape[2] == task.obs_dim
        check_against_task(ds, task)
    meta = {"suite": "mamujoco", "task": "Hopper_3x1", "quality": "expert", "backend": "mamujoco",
            "action_type": "continuous"}
    ds_local = from_episodes(_episodes(local), {**meta, "obs_layout": "local"})
    with pytest.raises(DatasetError, match="observation layout 'local', the task is configured with 'authors' "
                                           r"\(set the config key simulators.mamujoco_obs: local"):
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
    from envs.mamujoco_backend import state_from_authors_observation

    rng = np.random.default_rng(0)
    for n in (2, 3, 6):
        state = rng.normal(scale=3.0, size=(5, 17))
        np.testing.assert_allclose(state_from_authors_observation(authors_observation(state, n), n), state,
                                   rtol=1e-4, atol=1e-4)


def test_the_configs_simulators_key_reaches_the_training_run(tmp_path, monkeypatch):
    """``simulators.mamujoco_obs: local`` in the config: the workflow's train script passes it to
    the run, whose task then has local observations (the dataset check, the evaluation env) and
    whose config.yaml records it; without it the same dataset is refused, naming the key."""
    import runpy
    import types
    from pathlib import Path

    import yaml

    import harness.train
    from envs.dataset import write_dataset
    from harness.train import train

    local = get_task("Hopper_3x1", obs_layout="local")
    meta = {"suite": "mamujoco", "task": "Hopper_3x1", "quality": "expert", "backend": "mamujoco",
            "action_type": "continuous", "obs_layout": "local"}
    path = tmp_path / "expert.h5"
    write_dataset(from_episodes(_episodes(local, n=2, steps=6), meta), path)

    # workflow/scripts/train.py fills the run's settings from its rule's params (the device from the config)
    seen = []
    monkeypatch.setattr(harness.train, "train", lambda cfg, out, log, hooks=None: seen.append(cfg))
    config = {"train": {"device": "cpu"}, "simulators": {"smac_backend": "smax", "mamujoco_obs": "local"}}
    run = types.SimpleNamespace(algorithm="BC", seed=0, variant="default", hyperparameters={"hidden": 16},
                                suite="mamujoco", task="Hopper_3x1", quality="expert")
    snakemake = types.SimpleNamespace(
        params=types.SimpleNamespace(run=run, train={"batch_size": 4, "n_evals": 1, "eval_episodes": 1},
                                     length={"n_updates": 2}, fail=False, simulators=config["simulators"]),
        input=types.SimpleNamespace(dataset=str(path)), output=types.SimpleNamespace(metrics=str(tmp_path / "m.json")),
        log=[str(tmp_path / "train.log")], config=config, threads=1)
    root = Path(__file__).resolve().parents[1]
    runpy.run_path(str(root / "workflow" / "scripts" / "train.py"), init_globals={"snakemake": snakemake})
    assert seen[0].simulators == config["simulators"]

    out = tmp_path / "run"
    train(seen[0], out, log=lambda s: None)
    recorded = yaml.safe_load((out / "config.yaml").read_text())
    assert recorded["simulators"] == {"mamujoco_obs": "local"}        # only what concerns the task
    assert json.loads((out / "metrics.json").read_text())["status"] == "ok"
    with pytest.raises(DatasetError, match="set the config key simulators.mamujoco_obs: local"):
        train(dataclasses.replace(seen[0], simulators={}), tmp_path / "default", log=lambda s: None)


def test_the_authors_layout_fast_step_matches_the_multi_agent_step():
    """The authors' layout steps MuJoCo directly (no per-agent observation builder): the
    observations, states, rewards and flags must equal those of gymnasium-robotics' own step."""

    class ThroughParallelEnv(MaMuJoCoVectorEnv):   # the general path, used by the local layout
        def step(self, actions):
            actions = np.clip(np.asarray(actions, np.float32), -1.0, 1.0)
            out = [np.zeros(self.num_envs, np.float32), np.zeros(self.num_envs, bool), np.zeros(self.num_envs, bool)]
            for i, env in enumerate(self.envs):
                if self.done[i]:
                    continue
                _, r, te, tr, _ = env.step({a: actions[i, j] for j, a in enumerate(self.agents)})
                a0 = self.agents[0]
                out[0][i], out[1][i], out[2][i] = r[a0], te[a0], tr[a0] and not te[a0]
                self.state[i] = env.state()
                self.obs[i] = authors_observation(env.state(), self.n_agents)
                self.done[i] = out[1][i] or out[2][i]
            return (*out, np.zeros(self.num_envs, bool))

    task = get_task("Hopper_3x1")
    assert task.obs_layout == "authors"
    weights = np.random.default_rng(0).normal(size=(task.obs_dim, 1)) * 0.3
    traces = []
    for cls in (ThroughParallelEnv, MaMuJoCoVectorEnv):
        venv, trace = cls(task, 4, seed=5), []
        venv.reset()
        for _ in range(60):   # long enough for episodes to end and restart
            obs, state, _ = venv.observe()
            r, term, trunc, _ = venv.step(np.tanh(obs @ weights) * 0.2)
            trace.append([obs.tobytes(), state.tobytes(), r.tobytes(), term.tobytes(), trunc.tobytes()])
            venv.reset_done(venv.done)
        traces.append(trace)
    assert any(t[3] != np.zeros(4, bool).tobytes() for t in traces[0])   # some episode ended
    assert traces[0] == traces[1]

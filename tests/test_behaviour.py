"""Behaviour learners and the quality levels they produce."""
import dataclasses

import numpy as np
import pytest

from behaviour.ars import mamujoco_from_ars, train_ars
from behaviour.mappo_datasets import smac_from_mappo
from behaviour.qualities import pick_checkpoint
from behaviour.smax_heuristic import collect_smax
from tasks.registry import get_task


def easy_smax_task():
    # 5 marines against 3: learnable in seconds on a CPU, same code path as the paper's maps
    base = get_task("5m_vs_6m")
    kw = {**base.backend_kwargs, "n_enemies": 3}
    return dataclasses.replace(base, backend_kwargs=kw, obs_dim=13 * (4 + 3) + 10, state_dim=12 * 8,
                               action_dim=5 + 3)


@pytest.fixture(scope="module")
def mappo_run():
    from behaviour.mappo import MAPPOConfig, train_mappo
    cfg = MAPPOConfig(num_envs=16, rollout_steps=32, eval_episodes=16)
    return train_mappo(easy_smax_task(), 30_000, cfg, seed=0, n_checkpoints=4, record_episodes=40,
                       log=lambda s: None)


def test_mappo_learns_on_smax(mappo_run):
    ck = mappo_run["checkpoints"]
    assert ck[-1]["return_mean"] > ck[0]["return_mean"] + 0.3
    assert max(c["win_rate"] for c in ck) > ck[0]["win_rate"]
    assert len(mappo_run["curve"]) == len(ck)
    assert 0 < len(mappo_run["episodes"]) <= 40  # a reservoir sample of the run's episodes


def test_smacv1_qualities_are_ordered_by_return(mappo_run):
    task = easy_smax_task()
    returns = {q: smac_from_mappo(task, q, mappo_run, 16, seed=0).episode_returns().mean()
               for q in ("poor", "medium", "good")}
    # this tiny run saturates quickly, so medium may already play as well as good
    assert returns["poor"] < returns["good"]
    assert returns["poor"] <= returns["medium"] + 1e-6 and returns["medium"] <= returns["good"] + 1e-6


def test_smacv2_medium_is_drawn_across_the_learning_run(mappo_run):
    task = dataclasses.replace(easy_smax_task(), suite="smacv2", qualities=("medium",))
    ds = smac_from_mappo(task, "medium", mappo_run, 30, seed=0)
    assert ds.n_episodes == 30 and ds.meta["grade"] == "paper"
    assert ds.meta["provenance"]["behaviour"] == "mappo-learning-run"


def test_pick_checkpoint_follows_the_fractions():
    cks = [{"return_mean": r} for r in (0.0, 0.1, 0.5, 0.9, 1.0)]
    assert pick_checkpoint(cks, "poor")["return_mean"] == 0.1   # target 0.2
    assert pick_checkpoint(cks, "medium")["return_mean"] == 0.5
    assert pick_checkpoint(cks, "good")["return_mean"] == 1.0


def test_smoke_grade_smax_qualities_are_ordered():
    task = get_task("5m_vs_6m")
    means = [collect_smax(task, q, 32, seed=0).episode_returns().mean() for q in ("poor", "medium", "good")]
    assert means[0] < means[1] < means[2]


def test_ars_qualities_on_hopper():
    task = get_task("Hopper_3x1")
    run = train_ars(task, 6, seed=0, log=lambda s: None)
    ds = {q: mamujoco_from_ars(task, q, run, 4) for q in task.qualities}
    assert all(d.meta["grade"] == "smoke" for d in ds.values())
    assert not ds["expert"].terminated[-1] or ds["expert"].truncated.sum() + ds["expert"].terminated.sum() == 4
    assert ds["medium-expert"].n_episodes == 4


def test_mappo_runs_on_mamujoco_and_gives_d4rl_style_levels():
    from behaviour.mappo import MAPPOConfig, train_mappo
    from behaviour.mappo_datasets import mamujoco_from_mappo
    task = get_task("Hopper_3x1")
    cfg = MAPPOConfig(num_envs=4, rollout_steps=64, eval_episodes=2, epochs=2)
    run = train_mappo(task, 3000, cfg, seed=0, n_checkpoints=3, record_episodes=-1, log=lambda s: None)
    assert run["episodes"] and all(np.isfinite(c["return_mean"]) for c in run["checkpoints"])
    replay = mamujoco_from_mappo(task, "medium-replay", run, 4)
    medium_it = replay.meta["provenance"]["medium_iteration"]
    assert replay.meta["grade"] == "paper" and replay.n_episodes == sum(
        e["iteration"] <= medium_it for e in run["episodes"])
    assert mamujoco_from_mappo(task, "medium-expert", run, 4).n_episodes == 4


def test_running_mean_var_matches_numpy_and_restores_old_states():
    from behaviour.running_stats import RunningMeanVar
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3)) * 4 + 2
    vec = RunningMeanVar(3)
    vec.update(x[:1]); vec.update(x[1:])  # a single sample, then a batch
    np.testing.assert_allclose(vec.mean, x.mean(0))
    np.testing.assert_allclose(vec.std(ddof=1), x.std(0, ddof=1))
    scalar = RunningMeanVar()
    assert scalar.var() == 1.0  # nothing seen yet
    scalar.update(x)  # every number one sample
    np.testing.assert_allclose(scalar.var(), x.var())
    # resume files written before the class hold plain floats for the scalar statistics
    again = RunningMeanVar()
    again.set_state((scalar.n, float(scalar.mean), float(scalar.m2)))
    assert again.var() == scalar.var() and again.mean.shape == ()


def test_d4rl_levels_exclude_the_initial_policy_and_the_expert_from_medium():
    from behaviour.qualities import d4rl_episodes
    cks = [{"iteration": i, "r": r} for i, r in enumerate((4.0, 10.0, 3.0, 8.0, 6.0))]
    expert = cks[1]
    play = lambda ck, n: [("play", ck["iteration"])] * n
    replay = lambda medium: [("replay", medium["iteration"])]
    score = lambda c: c["r"]
    # target 0.4 * 10 = 4: the initial policy (4.0) is not a candidate; 3.0 is the closest learnt one
    eps, medium = d4rl_episodes("medium-expert", 3, cks, expert, score, play, replay)
    assert medium is cks[2] and eps == [("play", 2), ("play", 1), ("play", 1)]
    assert d4rl_episodes("medium-replay", 3, cks, expert, score, play, replay)[0] == [("replay", 2)]
    # only the initial policy and the expert: medium falls back to every checkpoint
    assert d4rl_episodes("medium", 1, cks[:2], expert, score, play, replay)[1] is cks[0]


def test_configured_mappo_sizes_are_mappo_config_fields_with_todays_defaults():
    from pathlib import Path

    import yaml

    from behaviour.mappo import MAPPOConfig
    root = Path(__file__).resolve().parents[1]
    schema = yaml.safe_load((root / "workflow" / "schemas" / "config.schema.yaml").read_text())
    mappo = schema["properties"]["datasets"]["properties"]["mappo"]["properties"]
    defaults = {b: {k: v["default"] for k, v in s["properties"].items()} for b, s in mappo.items()}
    assert all(set(d) <= set(MAPPOConfig.__dataclass_fields__) for d in defaults.values())
    assert MAPPOConfig(**defaults["smax"]) == MAPPOConfig()  # SMAX runs: MAPPOConfig's own defaults
    assert MAPPOConfig(**defaults["mamujoco"]) == MAPPOConfig(num_envs=16, rollout_steps=128, eval_episodes=8,
                                                              epochs=10)
    for name in ("config.yaml", "mini.yaml", "reference.yaml", "smoke.yaml"):
        datasets = yaml.safe_load((root / "config" / name).read_text())["datasets"]
        assert datasets["mappo"] == defaults and datasets["seed"] == 0, name


def test_the_behaviour_package_imports_no_layer_above_it():
    import ast
    from pathlib import Path

    for path in (Path(__file__).resolve().parents[1] / "behaviour").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] not in ("harness", "analysis", "workflow"), f"{path.name} imports {name}"
                assert name.split(".")[0] != "algorithms" or name == "algorithms.networks", \
                    f"{path.name} imports {name}"

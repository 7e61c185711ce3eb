"""Behaviour learners and the quality levels they produce."""

import numpy as np

from behaviour.d4rl_like.ars import train_ars
from behaviour.d4rl_like.datasets import mamujoco_from_ars
from behaviour.smac_like.heuristic import collect_smax
from envs.registry import get_task


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
    from behaviour.d4rl_like.datasets import mamujoco_from_mappo
    from behaviour.d4rl_like.mappo import MAPPOConfig, train_mappo
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
    from behaviour.d4rl_like.running_stats import RunningMeanVar
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
    # target 0.3 * 10 = 3: the initial policy (4.0) is not a candidate; 3.0 is the closest learnt one
    eps, medium = d4rl_episodes("medium-expert", 3, cks, expert, score, play, replay)
    assert medium is cks[2] and eps == [("play", 2), ("play", 1), ("play", 1)]
    assert d4rl_episodes("medium-replay", 3, cks, expert, score, play, replay)[0] == [("replay", 2)]
    # only the initial policy and the expert: medium falls back to every checkpoint
    assert d4rl_episodes("medium", 1, cks[:2], expert, score, play, replay)[1] is cks[0]


def test_configured_smac_like_settings_are_smax_mappo_fields_each_valid():
    """datasets.smac_like.mappo: SMAXMAPPOConfig fields (plus the run's env_steps), each in the schema;
    every profile's entry makes a valid learner config for each of its SMAX tasks."""
    from pathlib import Path

    import yaml

    from behaviour.smac_like.mappo_config import SMAXMAPPOConfig
    from pipeline.config_checks import behaviour_problems
    root = Path(__file__).resolve().parents[1]
    schema = yaml.safe_load((root / "workflow" / "schemas" / "config.schema.yaml").read_text())
    keys = schema["properties"]["datasets"]["properties"]["smac_like"]["properties"]["mappo"]["properties"]
    assert set(keys) == set(SMAXMAPPOConfig.__dataclass_fields__) | {"env_steps", "task_env_steps"}
    for name in ("config.yaml", "mini.yaml", "reference.yaml", "reference_epochs.yaml", "smoke.yaml"):
        config = yaml.safe_load((root / "config" / name).read_text())
        assert behaviour_problems(config) == [], name
    bad = yaml.safe_load((root / "config" / "reference.yaml").read_text())
    bad["datasets"]["smac_like"]["mappo"].update(chunk_length=7)
    assert any("chunk_length (7) must divide" in p for p in behaviour_problems(bad))
    bad["datasets"]["smac_like"]["mappo"].update(chunk_length=16, task_env_steps={"3m": 10})
    assert any("'3m' is not a SMAC task" in p for p in behaviour_problems(bad))


def test_configured_d4rl_like_settings_are_mappo_config_fields_over_its_mamujoco_defaults():
    """datasets.d4rl_like.mappo: MAPPOConfig fields (and the run's env_steps), each validated by the
    schema, over MAPPOConfig's defaults (HARL's Hopper 3x1 settings); every profile's entry makes a
    valid config."""
    from pathlib import Path

    import yaml

    from behaviour.d4rl_like.mappo import MAPPOConfig, mappo_config
    root = Path(__file__).resolve().parents[1]
    schema = yaml.safe_load((root / "workflow" / "schemas" / "config.schema.yaml").read_text())
    keys = schema["properties"]["datasets"]["properties"]["d4rl_like"]["properties"]["mappo"]["properties"]
    assert set(keys) == set(MAPPOConfig.__dataclass_fields__) | {"env_steps"}
    assert not any("default" in v for v in keys.values())  # one source of defaults: MAPPOConfig
    # the settings the MaMuJoCo runs have always had (HARL's tuned Hopper 3x1, at this CPU's sizes)
    assert mappo_config() == MAPPOConfig(
        num_envs=16, rollout_steps=128, eval_episodes=8, n_checkpoints=30, epochs=10, clip=0.05, entropy=0.0,
        layer_norm=True, value_norm=True, huber_delta=10.0, std_max=0.5, lr_decay=True, bootstrap_truncation=True,
        reward_scale=False, adam_eps=1e-5, clip_each=True, minibatches=4)
    assert mappo_config({"env_steps": 5, "epochs": 3}) == MAPPOConfig(epochs=3)
    for name in ("config.yaml", "mini.yaml", "reference.yaml", "reference_epochs.yaml"):
        settings = yaml.safe_load((root / "config" / name).read_text())["datasets"]["d4rl_like"]["mappo"]
        assert settings["env_steps"] >= 1_000_000, name   # Hopper 3x1's expert level needs about 1M
        mappo_config(settings)


def test_the_pytorch_mappo_is_for_continuous_actions_only():
    import pytest

    from behaviour.d4rl_like.mappo import MAPPOConfig, train_mappo
    with pytest.raises(ValueError, match="continuous actions.*smac_like"):
        train_mappo(get_task("5m_vs_6m"), 100, MAPPOConfig(num_envs=1, rollout_steps=4))


def test_dataset_keys_of_earlier_configs_are_refused_naming_the_new_ones():
    from pathlib import Path

    import pytest
    import yaml

    from pipeline.config_checks import renamed_key_problems, validate_config
    root = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((root / "config" / "smoke.yaml").read_text())
    assert renamed_key_problems(config) == []
    old = {"smax_episodes": 64, "ars_iterations": 8, "mamujoco_episodes": 8, "mappo_env_steps": 10,
           "mappo": {"smax": {}, "mamujoco": {}}}
    config["datasets"].update(old)
    problems = renamed_key_problems(config)
    assert len(problems) == 5
    for said in ("datasets.smax_episodes is no longer read: use datasets.smac_like.episodes",
                 "datasets.mamujoco_episodes is no longer read: use datasets.d4rl_like.episodes",
                 "datasets.ars_iterations is no longer read: use datasets.d4rl_like.ars_iterations",
                 "datasets.mappo_env_steps is no longer read: use datasets.smac_like.mappo.env_steps and "
                 "datasets.d4rl_like.mappo.env_steps",
                 "datasets.mappo is no longer read: use datasets.smac_like.mappo (was mappo.smax) and "
                 "datasets.d4rl_like.mappo (was mappo.mamujoco)"):
        assert said in problems, problems
    with pytest.raises(ValueError, match="datasets.smax_episodes is no longer read"):
        validate_config(config)   # before the schema, whose message would name no replacement


def test_the_behaviour_package_imports_no_layer_above_it():
    import ast
    from pathlib import Path

    for path in (Path(__file__).resolve().parents[1] / "behaviour").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] not in ("algorithms", "harness", "analysis", "pipeline", "workflow"), \
                    f"{path.name} imports {name}"

"""The task registry knows the paper's tasks and refuses unknown names with the valid list."""
from pathlib import Path

import pytest

from envs.registry import all_tasks, check_quality, get_task


def test_every_task_of_the_paper_is_registered():
    assert len(all_tasks("smacv1")) == 4 and len(all_tasks("smacv2")) == 15 and len(all_tasks("mamujoco")) == 3
    assert {t.name for t in all_tasks("smacv1")} == {"2c_vs_64zg", "5m_vs_6m", "6h_vs_8z", "corridor"}
    assert get_task("Hopper 3x1").name == get_task("mamujoco/Hopper-3x1").name == "Hopper_3x1"
    assert get_task("5m_vs_6m").episode_limit == 70  # SMAC's limit for this map
    assert all(t.approximation for t in all_tasks("smacv1") + all_tasks("smacv2"))


def test_unknown_task_lists_valid_names():
    with pytest.raises(KeyError) as err:
        get_task("3s_vs_5z")
    assert "smacv1/5m_vs_6m" in str(err.value) and "mamujoco/Hopper_3x1" in str(err.value)
    with pytest.raises(ValueError, match="valid: expert"):
        check_quality(get_task("Hopper_3x1"), "good")


def test_smax_dimensions_match_the_simulator():
    from envs.smax_backend import make_smax_env

    for name in ("5m_vs_6m", "6h_vs_8z", "corridor"):
        task = get_task(name, "smacv1")
        env = make_smax_env(task)
        assert env.observation_space(env.agents[0]).shape == (task.obs_dim,)
        assert env.action_space(env.agents[0]).n == task.action_dim
        assert len(env.agents) == task.n_agents


def test_mamujoco_dimensions_match_the_simulator():
    from envs.mamujoco_backend import make_mamujoco_env

    for name in ("Hopper_3x1", "Ant_2x4", "HalfCheetah_6x1"):
        task = get_task(name, obs_layout="local")
        env = make_mamujoco_env(task)
        obs, _ = env.reset(seed=0)
        assert len(env.possible_agents) == task.n_agents
        assert max(o.shape[0] for o in obs.values()) == task.obs_dim
        # the default observation is the authors': the full state plus a one-hot agent id
        assert get_task(name).obs_dim == task.state_dim + task.n_agents
        assert env.state().shape == (task.state_dim,)
        assert env.action_space(env.possible_agents[0]).shape == (task.action_dim,)


def test_the_registry_is_plain_data_whatever_the_environment():
    """TASKS does not read the environment (the old COMADICE_* variables change nothing), and
    importing the registry imports no simulator (nor jax) and no backend module."""
    import os
    import subprocess
    import sys

    code = ("import sys, dataclasses, envs.registry as r; "
            "print(sorted(m for m in sys.modules if m == 'jax' or m.endswith('_backend') or m.endswith('scenarios'))); "
            "print([dataclasses.astuple(t) for t in r.all_tasks()])")
    runs = []
    for env in ({}, {"COMADICE_SMAC_BACKEND": "sc2", "COMADICE_MAMUJOCO_OBS": "local"}):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, **env}).stdout.split("\n")
        assert out[0] == "[]"
        runs.append(out[1])
    assert runs[0] == runs[1]
    assert {t.backend for t in all_tasks("smacv1")} == {"smax"}
    assert {t.obs_layout for t in all_tasks("mamujoco")} == {"authors"}


def test_the_backend_is_a_task_option(monkeypatch):
    import dataclasses

    from envs import sc2_backend
    from envs.suites import SUITES

    assert get_task("5m_vs_6m").backend == SUITES["smacv1"].backends[0] == "smax"
    assert get_task("5m_vs_6m", backend="smax") == get_task("5m_vs_6m", simulators={"smac_backend": "smax"})
    # StarCraft II sizes the task itself (envs/sc2_backend.py sc2_task_spec: the game's env info)
    seen = []

    def sized(task):
        seen.append(task.id)
        return dataclasses.replace(task, backend="sc2", obs_dim=55, state_dim=98, action_dim=12, approximation=False)

    monkeypatch.setattr(sc2_backend, "task_spec", sized)
    for task in (get_task("5m_vs_6m", backend="sc2"), get_task("smacv1/5m_vs_6m", simulators={"smac_backend": "sc2"})):
        assert (task.backend, task.obs_dim, task.action_dim, task.approximation) == ("sc2", 55, 12, False)
    assert seen == ["smacv1/5m_vs_6m"] * 2
    # the SMAC key leaves MaMuJoCo alone, and the caller's argument wins over the config's
    assert get_task("Hopper_3x1", simulators={"smac_backend": "sc2"}).backend == "mamujoco"
    assert get_task("5m_vs_6m", backend="smax", simulators={"smac_backend": "sc2"}).backend == "smax"
    with pytest.raises(ValueError, match="runs on mamujoco, not 'sc2'"):
        get_task("Hopper_3x1", backend="sc2")
    with pytest.raises(ValueError, match="simulators.smac_backend must be one of smax, sc2, got 'mamujoco'"):
        get_task("5m_vs_6m", simulators={"smac_backend": "mamujoco"})
    with pytest.raises(ValueError, match="unknown simulators setting"):
        get_task("5m_vs_6m", simulators={"smac": "sc2"})
    # no environment variable changes the default: the settings come from the caller or the config
    monkeypatch.setenv("COMADICE_SMAC_BACKEND", "sc2")
    assert get_task("5m_vs_6m").backend == "smax" and seen == ["smacv1/5m_vs_6m"] * 2


def test_a_run_records_only_the_settings_that_concern_it_and_differ_from_the_defaults(monkeypatch):
    from envs.registry import SIMULATOR_DEFAULTS, task_simulators

    assert SIMULATOR_DEFAULTS == {"smac_backend": "smax", "mamujoco_obs": "authors"}
    local = {"smac_backend": "smax", "mamujoco_obs": "local"}
    assert task_simulators(local, "mamujoco") == {"mamujoco_obs": "local"}
    assert task_simulators(local, "smacv1") == task_simulators(SIMULATOR_DEFAULTS, "mamujoco") == {}
    monkeypatch.setenv("COMADICE_MAMUJOCO_OBS", "local")     # the environment is not a setting
    assert task_simulators({}, "mamujoco") == {}


def test_the_config_schema_names_exactly_the_suites_of_the_suite_table():
    """envs/suites.py SUITES is the one list of suites: every place the config schema names
    suites (the suites block, train.epochs, the variants' and the ablations' suite lists)
    names exactly its suites, so a new suite is refused nowhere in the schema once listed."""
    import yaml

    from envs.suites import SUITES

    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflow" / "schemas"
                             / "config.schema.yaml").read_text())
    props = schema["properties"]
    named = {
        "suites": set(props["suites"]["properties"]),
        "train.epochs": set(props["train"]["properties"]["epochs"]["properties"]),
        "variants.*.suites": set(props["variants"]["additionalProperties"]["properties"]["suites"]["items"]["enum"]),
        "ablations.suites": set(props["ablations"]["properties"]["suites"]["items"]["enum"]),
    }
    for where, names in named.items():
        assert names == set(SUITES), f"the schema's {where} names {sorted(names)}, the suite table {sorted(SUITES)}"


def test_the_config_schema_names_exactly_the_choices_of_the_registries():
    """The schema's simulators keys and their values (``smac_backend``, ``mamujoco_obs``) are
    envs/registry.py SIMULATOR_SETTINGS', and its f-divergences algorithms/fdiv.py F_DIVERGENCES':
    a new choice is refused nowhere in the schema once listed there."""
    import yaml

    from algorithms.fdiv import F_DIVERGENCES
    from envs.registry import SIMULATOR_DEFAULTS, SIMULATOR_SETTINGS

    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflow" / "schemas"
                             / "config.schema.yaml").read_text())
    props = schema["properties"]
    simulators = props["simulators"]
    assert set(simulators["properties"]) == set(SIMULATOR_SETTINGS)
    assert simulators["default"] == SIMULATOR_DEFAULTS
    for key, setting in SIMULATOR_SETTINGS.items():
        assert tuple(simulators["properties"][key]["enum"]) == setting.choices, key
        assert simulators["properties"][key]["default"] == setting.choices[0], key
    assert set(props["ablations"]["properties"]["f_divergence"]["items"]["enum"]) == set(F_DIVERGENCES)


def test_suite_facts_are_data_of_the_suite_table_and_the_registry():
    """What backends and data generators read of a suite or task is data: the simulators settings
    each suite takes (by its default backend), its observation layouts, its StarCraft scenario
    kind, and the SMACv1 maps' enemy rosters."""
    from envs.registry import SIMULATOR_SETTINGS, enemy_rosters, obs_layouts
    from envs.suites import SUITES

    assert SIMULATOR_SETTINGS["smac_backend"].suites == ("smacv1", "smacv2")
    assert SIMULATOR_SETTINGS["mamujoco_obs"].suites == ("mamujoco",)
    assert [obs_layouts(s) for s in SUITES] == [(), (), ("authors", "local")]
    assert [s.scenario_kind for s in SUITES.values()] == ["map", "generated", ""]
    assert enemy_rosters() == {"2c_vs_64zg": (64, 35.0), "5m_vs_6m": (6, 45.0), "6h_vs_8z": (8, 150.0),
                               "corridor": (24, 35.0)}
    with pytest.raises(ValueError, match="only its native observation"):
        get_task("5m_vs_6m", obs_layout="local")

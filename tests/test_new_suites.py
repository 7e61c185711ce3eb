"""A new suite of an existing dataset kind on an existing simulator is data in three files: its
``Suite`` entry (envs/suites.py), its tasks (envs/registry.py) and its name in the config schema's
suite lists (workflow/schemas/config.schema.yaml).  Each test adds one at run time, as those
three files would, and the rest follows: the config validates, the run grid expands it, its
dataset rules and tables pick it up, and a task of it makes an environment and evaluates."""
import copy
import dataclasses

import numpy as np
import pytest
import yaml

from envs import registry, suites
from envs.simulators import evaluate, make_vector_env


def _add_suite(monkeypatch, suite: suites.Suite, tasks) -> list:
    """The three files' edits, at run time: the Suite entry, the registry's tasks (``tasks()``,
    built once the entry exists), the schema's suite lists (those tests/test_registry.py ties to
    the suite table).  The tasks."""
    from pipeline import config_checks

    monkeypatch.setitem(suites.SUITES, suite.name, suite)
    tasks = tasks()
    for task in tasks:
        monkeypatch.setitem(registry.TASKS, (suite.name, task.name), task)
    schema = copy.deepcopy(config_checks.load_schema())
    props = schema["properties"]
    props["suites"]["properties"][suite.name] = {"$ref": "#/$defs/suite"}
    props["train"]["properties"]["epochs"]["properties"][suite.name] = copy.deepcopy(
        next(iter(props["train"]["properties"]["epochs"]["properties"].values())))
    for enum in (props["variants"]["additionalProperties"]["properties"]["suites"]["items"]["enum"],
                 props["ablations"]["properties"]["suites"]["items"]["enum"]):
        enum.append(suite.name)
    monkeypatch.setattr(config_checks, "load_schema", lambda: schema)
    return tasks


def _config(suite: str, task: str, quality: str) -> dict:
    config = yaml.safe_load(open("config/smoke.yaml"))
    config["suites"] = {suite: {"tasks": [task], "qualities": [quality]}}
    config["algorithms"], config["seeds"], config["ablations"] = ["BC"], [0], {}
    return config


def _follows(config: dict, suite: str, task: str, quality: str, kind: str) -> None:
    """The config validates, the grid expands the suite, its dataset rules and its table follow."""
    from pipeline.config_checks import validate_config
    from pipeline.grid import runs, task_cells
    from pipeline.report_plan import report_tables

    validate_config(config)
    assert task_cells(config) == [(suite, task, quality)]
    assert [r.id for r in runs(config)] == [f"{suite}/{task}/{quality}/BC/default/seed0"]
    assert suite in suites.suites_of_kind(kind)  # the wildcard constraint of its dataset rules
    assert suites.get_suite(suite).table in [t.stem for t in report_tables(config)]


def test_a_smac_like_suite_on_smax_is_its_entry_its_tasks_and_its_schema_names(monkeypatch):
    suite = suites.Suite("smacnew", "SMACnew", "table9_smacnew", "win_rate_pct", ("poor", "medium", "good"),
                         ("smax", "sc2"), True, "smac", family="SMAC", scenario_kind="map")
    task, = _add_suite(monkeypatch, suite, lambda: [registry._smax_task(
        "3m", "3m", "smacnew", 3, 3, 20, "marine", "marine", approximation=True, enemy_roster=(3, 45.0))])
    _follows(_config("smacnew", "3m", "poor"), "smacnew", "3m", "poor", "smac")
    found = registry.get_task("smacnew/3m", simulators={"smac_backend": "smax", "mamujoco_obs": "local"})
    assert found == task and registry.task_simulators({"smac_backend": "sc2"}, "smacnew") == {"smac_backend": "sc2"}
    from behaviour.smac_like.datasets import smax_band
    assert smax_band("3m", "poor")[0] == 0.0  # its enemy roster scales the SMACv1 return bands
    venv = make_vector_env(found, 2, seed=0)
    assert venv.env.num_allies == 3 and venv.env.num_enemies == 3
    res = evaluate(found, lambda obs, avail: avail.argmax(-1), 2, venv=venv)
    assert res["lengths"].max() <= found.episode_limit + 1 and 0.0 <= res["win_rate"] <= 1.0


def test_a_d4rl_like_suite_on_mamujoco_is_its_entry_its_tasks_and_its_schema_names(monkeypatch):
    suite = suites.Suite("d4rlnew", "D4RLnew", "table9_d4rlnew", "return_mean", ("expert", "medium"),
                         ("mamujoco",), False, "d4rl")
    hopper = registry.get_task("mamujoco/Hopper_3x1", obs_layout="local")
    _add_suite(monkeypatch, suite, lambda: [registry.with_obs_layout(dataclasses.replace(
        hopper, suite="d4rlnew", qualities=suite.qualities, episode_limit=10), registry.DEFAULT_MAMUJOCO_OBS)])
    _follows(_config("d4rlnew", "Hopper_3x1", "medium"), "d4rlnew", "Hopper_3x1", "medium", "d4rl")
    assert registry.get_task("d4rlnew/Hopper_3x1").obs_layout == "authors"
    local = registry.get_task("d4rlnew/Hopper 3x1", simulators={"mamujoco_obs": "local"})
    assert (local.obs_layout, local.obs_dim) == ("local", 9)
    res = evaluate(local, lambda obs, avail: np.zeros((2, 3, 1)), 2, seed=0)
    assert res["lengths"].max() <= 10 and np.isnan(res["win_rate"]) and res["wins"] is None


def test_a_suite_of_no_battles_is_refused_by_the_starcraft_backends():
    from envs.sc2_backend import package_of, scenario_kind

    assert [scenario_kind(s) for s in ("smacv1", "smacv2", "mamujoco", None)] == ["map", "generated", "", ""]
    assert [package_of(s) for s in ("smacv1", "smacv2", None)] == ["smac", "smacv2", "smac"]
    from envs.smax_scenarios import make_env
    with pytest.raises(ValueError, match="not a StarCraft task"):
        make_env(dataclasses.replace(registry.get_task("5m_vs_6m"), suite="mamujoco"))

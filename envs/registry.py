"""The task registry: one place that knows every task of the paper, as plain data.

Names follow the paper (Tables 1-3).  Lookup is forgiving about separators, so
``"Hopper 3x1"``, ``"Hopper-3x1"`` and ``"Hopper_3x1"`` name the same task; the
canonical id (used in paths and result files) uses underscores.

``TASKS`` holds every task as its suite's default backend runs it (``envs/suites.py``
``SUITES``: SMAX for the StarCraft suites, with the authors' observation for MaMuJoCo); it
is built from the tables below alone, whatever the environment.  ``get_task`` configures a
task:

- ``backend`` (SMACv1 / SMACv2): ``smax`` or ``sc2``.  A backend other than the suite's
  default sizes the task itself: its module's ``task_spec(task)`` (StarCraft II:
  ``envs/sc2_backend.py`` ``sc2_task_spec``, read from the game's env info);
- ``obs_layout`` (MaMuJoCo): ``authors`` (the full state plus a one-hot agent id,
  standardised per vector, as the environment the paper's and OMIGA's data were made with;
  width state + n_agents) or ``local`` (Gymnasium-Robotics' agent_obsk=1 observations);
- ``simulators``: the config's section of the same name (``smac_backend``, ``mamujoco_obs``;
  ``SIMULATOR_SETTINGS``), each key applied to the suites it concerns: those whose default backend
  is among the key's ``backends`` (so a new suite on an existing simulator gets its keys from its
  ``Suite`` entry).  The workflow passes it.

Task facts the backends and data generators read are data here too: a suite's
``scenario_kind`` (``envs/suites.py``: how StarCraft battles are built), the observation
layouts a suite's setting offers (``obs_layouts``, widths in ``envs/spec.py``
``OBS_LAYOUT_WIDTHS``) and a SMACv1 map's ``enemy_roster`` (``enemy_rosters``).

An argument left None takes the suite's default (``SIMULATOR_DEFAULTS``): the settings come from
the caller or the config, never from the environment, so that no shell variable changes a run
unseen.  Every dataset records the backend and observation layout it
was made with, and one made otherwise is refused for the task (``envs/dataset.py``).

SMAX sizes come from SMAX's formulas (``envs/smax_sizes.py``; the scenarios themselves are
built in ``envs/smax_scenarios.py``); ``tests/test_registry.py`` checks them against the live
simulator for the tasks that run.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, replace

from envs.smax_sizes import SMAX_N_UNIT_TYPES, SMAX_UNIT_TYPE_NAMES, smax_dims
from envs.spec import DEFAULT_MAMUJOCO_OBS, MAMUJOCO_OBS_LAYOUTS, OBS_LAYOUT_WIDTHS, TaskSpec
from envs.suites import BACKENDS, SUITES


@dataclass(frozen=True)
class SimulatorSetting:
    """One key of the config's ``simulators`` section."""

    argument: str          # the get_task argument it sets
    backends: tuple        # it configures the suites whose default backend is one of these
    choices: tuple         # its valid values, the first the default

    @property
    def suites(self) -> tuple:
        """The suites it configures (``envs/suites.py`` ``SUITES``, read when asked)."""
        return tuple(s.name for s in SUITES.values() if s.backends[0] in self.backends)


#: the config's ``simulators`` section (config/README.md)
SIMULATOR_SETTINGS = {
    "smac_backend": SimulatorSetting("backend", ("smax", "sc2"), SUITES["smacv1"].backends),
    "mamujoco_obs": SimulatorSetting("obs_layout", ("mamujoco",), tuple(MAMUJOCO_OBS_LAYOUTS)),
}
#: each key's value when neither the caller nor a config gives one
SIMULATOR_DEFAULTS = {k: s.choices[0] for k, s in SIMULATOR_SETTINGS.items()}


def _checked(key: str, value, where: str) -> str:
    choices = SIMULATOR_SETTINGS[key].choices
    if value not in choices:
        raise ValueError(f"{where} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _setting(key: str, simulators: dict) -> str:
    if simulators.get(key) is not None:
        return _checked(key, simulators[key], f"simulators.{key}")
    return SIMULATOR_DEFAULTS[key]


def simulator_settings(simulators: dict | None = None, suite: str | None = None) -> dict:
    """The ``simulators`` keys that concern ``suite`` (None: every key), resolved: the given
    value (a config's section), else ``SIMULATOR_DEFAULTS``."""
    simulators = simulators or {}
    unknown = sorted(set(simulators) - set(SIMULATOR_SETTINGS))
    if unknown:
        raise ValueError(f"unknown simulators setting(s) {', '.join(map(repr, unknown))}; "
                         f"valid: {', '.join(SIMULATOR_SETTINGS)}")
    for key, value in simulators.items():
        if value is not None:
            _checked(key, value, f"simulators.{key}")
    return {key: _setting(key, simulators) for key, setting in SIMULATOR_SETTINGS.items()
            if suite is None or suite in setting.suites}


def task_simulators(simulators: dict | None, suite: str) -> dict:
    """The ``simulators`` settings that concern ``suite`` and differ from the defaults (what a
    run records: empty for a default configuration)."""
    return {k: v for k, v in simulator_settings(simulators, suite).items() if v != SIMULATOR_DEFAULTS[k]}


def obs_layouts(suite: str) -> tuple:
    """The observation layouts a task of ``suite`` can take: the choices of the ``simulators``
    setting of ``obs_layout`` that configures the suite; () for only the simulator's own."""
    for setting in SIMULATOR_SETTINGS.values():
        if setting.argument == "obs_layout" and suite in setting.suites:
            return setting.choices
    return ()


def with_obs_layout(task: TaskSpec, layout: str) -> TaskSpec:
    """``task`` configured with observation ``layout`` (MaMuJoCo: ``authors`` | ``local``); the
    observation width follows (``OBS_LAYOUT_WIDTHS``; authors: state + n_agents)."""
    layouts = obs_layouts(task.suite)
    if not layouts:
        if layout not in (None, task.obs_layout):
            raise ValueError(f"task {task.id} has only its native observation; {layout!r} applies to the tasks of "
                             f"{', '.join(s for s in SUITES if obs_layouts(s))}")
        return task
    if layout not in layouts:
        raise ValueError(f"unknown observation layout {layout!r} for {task.id}; valid: {', '.join(layouts)}")
    return replace(task, obs_layout=layout, obs_dim=OBS_LAYOUT_WIDTHS[layout](task))


def on_backend(task: TaskSpec, backend: str) -> TaskSpec:
    """``task`` run by ``backend`` (one of its suite's), with that backend's own sizes: the
    registry's entry for its default backend, else the backend module's ``task_spec(task)``."""
    allowed = SUITES[task.suite].backends
    if backend not in allowed:
        raise ValueError(f"task {task.id} runs on {', '.join(allowed)}, not {backend!r}")
    if backend == task.backend:
        return task
    return importlib.import_module(BACKENDS[backend].module).task_spec(task)


def _smax_task(name, display, suite, n_allies, n_enemies, limit, ally_type, enemy_type,
               approximation=False, note="", available=True, race=None, enemy_roster=()):
    # the unit-type one-hot grows with every type beyond SMAX's six (2c_vs_64zg adds a colossus)
    extra = {t for t in (ally_type, enemy_type) if t is not None and t not in SMAX_UNIT_TYPE_NAMES}
    obs, state, actions = smax_dims(n_allies, n_enemies, SMAX_N_UNIT_TYPES + len(extra))
    return TaskSpec(
        name=name, display=display, suite=suite, backend="smax",
        n_agents=n_allies, obs_dim=obs, state_dim=state, action_dim=actions,
        action_type="discrete", qualities=SUITES[suite].qualities, episode_limit=limit,
        approximation=approximation, approximation_note=note, available=available,
        backend_kwargs={"n_allies": n_allies, "n_enemies": n_enemies,
                        "ally_type": ally_type, "enemy_type": enemy_type, "race": race},
        enemy_roster=enemy_roster,
    )


def _build() -> dict:
    tasks = {}
    smax_note = "SMAX (JaxMARL) re-implementation of SMAC: no terrain, simplified unit dynamics"
    # SMACv1, Table 1.  Episode limits are SMAC's per-map limits (smac/env/starcraft2/maps/smac_maps.py).
    # enemy health: hit points + shields of one enemy as SMAC reads SC2's unit stats (marine 45,
    # zergling 35, zealot 100 + 50 shield), the task's enemy_roster with the enemy count
    v1 = [
        # name, allies, enemies, limit, ally, enemy, runs-here, enemy health, extra note
        ("2c_vs_64zg", 2, 64, 400, "colossus", "zergling", True, 35.0,
         "colossus-like 7th SMAX unit type (Liquipedia stats; one 10-damage hit per 1.07 s; no second beam, "
         "+5 vs light, splash or cliff walking); open map"),
        ("5m_vs_6m", 5, 6, 70, "marine", "marine", True, 45.0, ""),
        ("6h_vs_8z", 6, 8, 150, "hydralisk", "zealot", True, 150.0, ""),
        ("corridor", 6, 24, 400, "zealot", "zergling", True, 35.0,
         "open map instead of the corridor terrain"),
    ]
    for name, a, e, limit, at, et, avail, health, extra in v1:
        note = smax_note + ("; " + extra if extra else "")
        tasks[("smacv1", name)] = _smax_task(
            name, name, "smacv1", a, e, limit, at, et,
            approximation=True, note=note, available=avail, enemy_roster=(e, health),
        )
    # SMACv2, Table 2.  SMACv2's limit is 200 steps for every generated scenario.
    for race in ("protoss", "terran", "zerg"):
        for a, e in ((5, 5), (10, 10), (10, 11), (20, 20), (20, 23)):
            name = f"{race}_{a}_vs_{e}"
            tasks[("smacv2", name)] = _smax_task(
                name, f"{race.capitalize()} {a}_vs_{e}", "smacv2", a, e, 200, None, None, approximation=True,
                note=smax_note + "; SMAX lacks colossus / medivac / baneling: SMACv2's unit-type weights "
                                 "renormalised over the two it has (0.5 / 0.5); SMACv2 start positions",
                race=race,
            )
    # MaMuJoCo, Table 3 (Gymnasium-Robotics mamujoco_v1, v5 physics).  od: the local agent_obsk=1
    # observation width; the default "authors" observation is state + one-hot id (sd + n wide).
    mj = [
        ("Hopper_3x1", "Hopper 3x1", "Hopper", "3x1", 3, 9, 11, 1),
        ("Ant_2x4", "Ant 2x4", "Ant", "2x4", 2, 63, 105, 4),
        ("HalfCheetah_6x1", "HalfCheetah 6x1", "HalfCheetah", "6x1", 6, 9, 17, 1),
    ]
    for name, disp, scen, conf, n, od, sd, ad in mj:
        tasks[("mamujoco", name)] = with_obs_layout(TaskSpec(
            name=name, display=disp, suite="mamujoco", backend="mamujoco", n_agents=n,
            obs_dim=od, state_dim=sd, action_dim=ad, action_type="continuous",
            qualities=SUITES["mamujoco"].qualities, episode_limit=1000,
            approximation=False,
            approximation_note="MuJoCo v5 physics (the paper's datasets used v2)",
            backend_kwargs={"scenario": scen, "agent_conf": conf, "agent_obsk": 1, "local_obs_dim": od},
            obs_layout="local",
        ), DEFAULT_MAMUJOCO_OBS)
    return tasks


TASKS = _build()


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip()).lower()


def all_tasks(suite: str | None = None) -> list:
    return [t for (s, _), t in TASKS.items() if suite is None or s == suite]


def get_task(name: str, suite: str | None = None, obs_layout: str | None = None,
             backend: str | None = None, simulators: dict | None = None) -> TaskSpec:
    """Look a task up by name (``"5m_vs_6m"``, ``"smacv1/5m_vs_6m"``, ``"Hopper 3x1"``) and configure it.

    ``backend`` (SMAC suites: ``smax`` | ``sc2``) and ``obs_layout`` (MaMuJoCo: ``authors`` |
    ``local``; other tasks: only their ``native`` one) apply to the task found; ``simulators``
    (a config's section: ``smac_backend``, ``mamujoco_obs``) configures whichever suite the task
    is of.  What none of them gives takes the suite's default (SMAX; ``authors``).
    An unknown name raises ``KeyError`` whose message lists every valid name.
    """
    if "/" in name and suite is None:
        suite, name = name.split("/", 1)
    if suite is not None and suite not in SUITES:
        raise KeyError(f"unknown suite {suite!r}; valid suites: {', '.join(SUITES)}")
    key = _norm(name)
    hits = [t for (s, n), t in TASKS.items()
            if _norm(n) == key and (suite is None or s == suite)]
    if not hits:
        valid = ", ".join(t.id for t in TASKS.values())
        raise KeyError(f"unknown task {name!r}" + (f" in suite {suite!r}" if suite else "")
                       + f"; valid tasks: {valid}")
    task = hits[0]
    given = {"backend": backend, "obs_layout": obs_layout}
    for key, value in simulator_settings(simulators, task.suite).items():
        arg = SIMULATOR_SETTINGS[key].argument
        given[arg] = value if given[arg] is None else given[arg]
    backend, obs_layout = given["backend"], given["obs_layout"]
    if obs_layout is not None:
        task = with_obs_layout(task, obs_layout)
    if backend is not None:
        task = on_backend(task, backend)
    return task


def enemy_rosters() -> dict:
    """{task name: its ``enemy_roster``} of every registered task that has one (the SMACv1 maps)."""
    return {t.name: t.enemy_roster for t in TASKS.values() if t.enemy_roster}


def check_quality(task: TaskSpec, quality: str) -> None:
    if quality not in task.qualities:
        raise ValueError(f"task {task.id} has no dataset quality {quality!r}; "
                         f"valid: {', '.join(task.qualities)}")

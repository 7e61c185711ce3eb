"""The task registry: one place that knows every task of the paper.

Names follow the paper (Tables 1-3).  Lookup is forgiving about separators, so
``"Hopper 3x1"``, ``"Hopper-3x1"`` and ``"Hopper_3x1"`` name the same task; the
canonical id (used in paths and result files) uses underscores.

Dimensions of SMAX tasks follow SMAX's own layout (jaxmarl 0.2.0, six unit
types): an agent observes 13 features of every other unit plus 10 of its own,
the world state holds 12 features per unit, and the action set is 5 movement /
no-op actions plus one attack action per enemy.  With T unit types (2c_vs_64zg adds
a seventh, the colossus) the counts are 7+T, 4+T and 6+T.  The scenarios themselves
(SMACv2's race-aware unit types and start positions, corridor, 2c_vs_64zg) are built in
``tasks/smax_scenarios.py``.  ``tests/test_registry.py``
checks these formulas against the live simulator for the tasks that run.

MaMuJoCo tasks have an observation option, ``obs_layout``: ``authors`` (the default: the
full state plus a one-hot agent id, standardised per vector, as the environment the
paper's and OMIGA's data were made with; width state + n_agents) or ``local`` (Gymnasium-
Robotics' agent_obsk=1 observations).  ``get_task(..., obs_layout=...)`` or the
environment variable ``COMADICE_MAMUJOCO_OBS`` chooses; every dataset records the layout it
holds and one made with the other layout is refused (``tasks/dataset.py``).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from typing import Optional

# SMAX (jaxmarl 0.2.0) feature counts, read off the simulator (see module doc).
SMAX_UNIT_FEATURES = 13
SMAX_OWN_FEATURES = 10
SMAX_STATE_FEATURES_PER_UNIT = 12
SMAX_MOVE_ACTIONS = 5

SMACV1_QUALITIES = ("poor", "medium", "good")
SMACV2_QUALITIES = ("medium",)
MAMUJOCO_QUALITIES = ("expert", "medium", "medium-replay", "medium-expert")

SUITES = ("smacv1", "smacv2", "mamujoco")


@dataclass(frozen=True)
class TaskSpec:
    """Everything the harness needs to know about one task of the paper."""

    name: str                     # canonical id, e.g. "5m_vs_6m", "Hopper_3x1"
    display: str                  # as printed in the paper's tables
    suite: str                    # smacv1 | smacv2 | mamujoco
    backend: str                  # smax | mamujoco (default backend here)
    n_agents: int
    obs_dim: int                  # per-agent observation (max over agents; smaller ones are zero padded)
    state_dim: int                # global state
    action_dim: int               # number of discrete actions, or continuous action size per agent
    action_type: str              # "discrete" | "continuous"
    qualities: tuple
    episode_limit: int            # SMAC's per-map limit, or MaMuJoCo's 1000-step time limit
    approximation: bool = False   # True where our backend only approximates the paper's task
    approximation_note: str = ""
    available: bool = True        # False: the task is registered but its backend is not built yet
    backend_kwargs: dict = field(default_factory=dict, hash=False, compare=False)
    obs_layout: str = "native"    # what an agent observes: "native" (the simulator's own, SMAC), or for
                                  # MaMuJoCo "authors" | "local" (see MAMUJOCO_OBS_LAYOUTS)

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.name}"

    @property
    def discrete(self) -> bool:
        return self.action_type == "discrete"


#: MaMuJoCo observation layouts (a task option; ``COMADICE_MAMUJOCO_OBS`` picks the default)
MAMUJOCO_OBS_LAYOUTS = {
    # vietbt/ComaDICE envs/mamujoco/multiagent_mujoco/mujoco_multi.py get_obs (lines 147-160), identical in
    # ZhengYinan-AIR/OMIGA envs/ma_mujoco/multiagent_mujoco/mujoco_multi.py: every agent sees
    # concat(full MuJoCo observation, one-hot agent id), minus that vector's own mean, divided by its own
    # (population) std -- the observation the paper's and OMIGA's MaMuJoCo data were made and evaluated with
    "authors": "full state + one-hot agent id, standardised per vector (mean and std over the vector's own "
               "entries), as the paper's and OMIGA's MaMuJoCo environment (mujoco_multi.py get_obs)",
    # Gymnasium-Robotics mamujoco_v1 agent_obsk=1: each agent's own joints and those one hop away, raw
    "local": "local agent_obsk=1 observation of Gymnasium-Robotics mamujoco_v1 (own and neighbouring joints), "
             "raw, zero padded to the widest agent",
}
DEFAULT_MAMUJOCO_OBS = "authors"


def mamujoco_obs_layout() -> str:
    """The MaMuJoCo observation layout tasks are configured with: ``COMADICE_MAMUJOCO_OBS``
    (``authors`` by default, or ``local``)."""
    layout = os.environ.get("COMADICE_MAMUJOCO_OBS", DEFAULT_MAMUJOCO_OBS)
    if layout not in MAMUJOCO_OBS_LAYOUTS:
        raise ValueError(f"COMADICE_MAMUJOCO_OBS must be one of {', '.join(MAMUJOCO_OBS_LAYOUTS)}, got {layout!r}")
    return layout


def with_obs_layout(task: TaskSpec, layout: str) -> TaskSpec:
    """``task`` configured with observation ``layout`` (MaMuJoCo: ``authors`` | ``local``); the
    observation width follows (authors: state + n_agents)."""
    if task.suite != "mamujoco":
        if layout not in (None, task.obs_layout):
            raise ValueError(f"task {task.id} has only its native observation; {layout!r} applies to MaMuJoCo tasks")
        return task
    if layout not in MAMUJOCO_OBS_LAYOUTS:
        raise ValueError(f"unknown observation layout {layout!r} for {task.id}; valid: {', '.join(MAMUJOCO_OBS_LAYOUTS)}")
    width = task.state_dim + task.n_agents if layout == "authors" else task.backend_kwargs["local_obs_dim"]
    return replace(task, obs_layout=layout, obs_dim=width)


def smac_backend() -> str:
    """The StarCraft backend: SMAX by default, real StarCraft II with COMADICE_SMAC_BACKEND=sc2."""
    backend = os.environ.get("COMADICE_SMAC_BACKEND", "smax")
    if backend not in ("smax", "sc2"):
        raise ValueError(f"COMADICE_SMAC_BACKEND must be 'smax' or 'sc2', got {backend!r}")
    return backend


def _smax_task(name, display, suite, n_allies, n_enemies, limit, qualities, ally_type, enemy_type,
               approximation=False, note="", available=True, race=None, n_unit_types=6):
    # the unit-type one-hot grows with the number of unit types (2c_vs_64zg adds a colossus)
    unit_f = SMAX_UNIT_FEATURES + (n_unit_types - 6)
    own_f = SMAX_OWN_FEATURES + (n_unit_types - 6)
    return TaskSpec(
        name=name, display=display, suite=suite, backend=smac_backend(),
        n_agents=n_allies,
        obs_dim=unit_f * (n_allies - 1 + n_enemies) + own_f,
        state_dim=(own_f + 2) * (n_allies + n_enemies),
        action_dim=SMAX_MOVE_ACTIONS + n_enemies,
        action_type="discrete", qualities=qualities, episode_limit=limit,
        approximation=approximation and smac_backend() == "smax",
        approximation_note=note if smac_backend() == "smax" else "StarCraft II (smac / smacv2)",
        available=available,
        backend_kwargs={"n_allies": n_allies, "n_enemies": n_enemies,
                        "ally_type": ally_type, "enemy_type": enemy_type, "race": race},
    )


def _build() -> dict:
    tasks = {}
    smax_note = "SMAX (JaxMARL) re-implementation of SMAC: no terrain, simplified unit dynamics"
    # SMACv1, Table 1.  Episode limits are SMAC's per-map limits (smac/env/starcraft2/maps/smac_maps.py).
    v1 = [
        # name, allies, enemies, limit, ally, enemy, runs-here, extra note
        ("2c_vs_64zg", 2, 64, 400, "colossus", "zergling", True,
         "colossus-like 7th SMAX unit type (Liquipedia stats; one 10-damage hit per 1.07 s; no second beam, "
         "+5 vs light, splash or cliff walking); open map"),
        ("5m_vs_6m", 5, 6, 70, "marine", "marine", True, ""),
        ("6h_vs_8z", 6, 8, 150, "hydralisk", "zealot", True, ""),
        ("corridor", 6, 24, 400, "zealot", "zergling", True,
         "open map instead of the corridor terrain"),
    ]
    for name, a, e, limit, at, et, avail, extra in v1:
        note = smax_note + ("; " + extra if extra else "")
        tasks[("smacv1", name)] = _smax_task(
            name, name, "smacv1", a, e, limit, SMACV1_QUALITIES, at, et,
            approximation=True, note=note, available=avail, n_unit_types=7 if name == "2c_vs_64zg" else 6,
        )
    # SMACv2, Table 2.  SMACv2's limit is 200 steps for every generated scenario.
    for race in ("protoss", "terran", "zerg"):
        for a, e in ((5, 5), (10, 10), (10, 11), (20, 20), (20, 23)):
            name = f"{race}_{a}_vs_{e}"
            tasks[("smacv2", name)] = _smax_task(
                name, f"{race.capitalize()} {a}_vs_{e}", "smacv2", a, e, 200, SMACV2_QUALITIES,
                None, None, approximation=True,
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
    layout = mamujoco_obs_layout()
    for name, disp, scen, conf, n, od, sd, ad in mj:
        tasks[("mamujoco", name)] = with_obs_layout(TaskSpec(
            name=name, display=disp, suite="mamujoco", backend="mamujoco", n_agents=n,
            obs_dim=od, state_dim=sd, action_dim=ad, action_type="continuous",
            qualities=MAMUJOCO_QUALITIES, episode_limit=1000,
            approximation=False,
            approximation_note="MuJoCo v5 physics (the paper's datasets used v2)",
            backend_kwargs={"scenario": scen, "agent_conf": conf, "agent_obsk": 1, "local_obs_dim": od},
            obs_layout="local",
        ), layout)
    return tasks


TASKS = _build()


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip()).lower()


def all_tasks(suite: Optional[str] = None) -> list:
    return [t for (s, _), t in TASKS.items() if suite is None or s == suite]


def get_task(name: str, suite: Optional[str] = None, obs_layout: Optional[str] = None) -> TaskSpec:
    """Look a task up by name (``"5m_vs_6m"``, ``"smacv1/5m_vs_6m"``, ``"Hopper 3x1"``).

    ``obs_layout`` configures a MaMuJoCo task's observation (``authors`` | ``local``; None: the
    ``COMADICE_MAMUJOCO_OBS`` default, ``authors``).  An unknown name raises ``KeyError`` whose
    message lists every valid name.
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
    if hits[0].suite == "mamujoco":
        return with_obs_layout(hits[0], obs_layout or mamujoco_obs_layout())
    if obs_layout is not None:
        return with_obs_layout(hits[0], obs_layout)
    if hits[0].backend == "sc2":
        # StarCraft II's own observation / state / action sizes (read from the game's env info)
        from tasks.sc2_backend import sc2_task_spec
        return sc2_task_spec(hits[0])
    return hits[0]


def check_quality(task: TaskSpec, quality: str) -> None:
    if quality not in task.qualities:
        raise ValueError(f"task {task.id} has no dataset quality {quality!r}; "
                         f"valid: {', '.join(task.qualities)}")

"""The benchmark suites of the paper, one entry each: the one table every layer reads a suite from.

A suite's entry says which dataset qualities it has, which backends can run its tasks (the
first is the default), what its tables report (the metric column of ``scores.csv``), and
the name and title of its table.  The task registry (``envs/registry.py``), the simulator
dispatch (``envs/simulators.py``), the workflow (table outputs) and the reports
(``analysis/score_tables.py``, ``analysis/figures.py``) all take these facts from here, so a new
suite is this entry, its tasks in the registry and its backend module.  A new metric is its
``METRICS`` entry here and the ``scores.csv`` column ``analysis/aggregate.py`` writes.

Plain data: nothing here imports a simulator.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Suite:
    name: str              # the id used in configs, paths and scores.csv
    title: str             # as the paper's captions print it
    table: str             # the report's file stem (reports/<profile>/<table>.tex / .csv)
    metric: str            # the scores.csv column its tables report
    qualities: tuple       # dataset qualities, in the paper's row order
    backends: tuple        # simulators that run its tasks; the first is the default
    returns_table: bool    # whether the appendix's companion table of returns exists (SMAC: win rate is the metric)
    dataset_kind: str      # how its datasets are made (workflow/rules/datasets.smk): "smac" (SMAX heuristic,
                           # or checkpoints of a MAPPO run by win rate) | "d4rl" (ARS / MAPPO checkpoints
                           # and replay, D4RL's expert / medium / medium-replay / medium-expert)
    replay_sample: bool = False   # its one quality is a sample of the whole MAPPO run's replay (SMACv2)
    family: str = ""       # as a caption names it among suites of other metrics ("SMAC tasks"); "" for its title
    scenario_kind: str = ""  # how the StarCraft backends build its battles: "map" (a fixed map: the task's
                             # unit types and places, SMACv1) | "generated" (each episode's teams and start
                             # positions drawn for the task's race, SMACv2); "" for a suite of no battles

    @property
    def family_title(self) -> str:
        return self.family or self.title


#: every suite, in the paper's table order (Tables 1-3)
SUITES: dict = {s.name: s for s in (
    Suite("smacv1", "SMACv1", "table1_smacv1", "win_rate_pct", ("poor", "medium", "good"),
          ("smax", "sc2"), True, "smac", family="SMAC", scenario_kind="map"),
    Suite("smacv2", "SMACv2", "table2_smacv2", "win_rate_pct", ("medium",), ("smax", "sc2"), True, "smac",
          replay_sample=True, family="SMAC", scenario_kind="generated"),
    Suite("mamujoco", "MaMuJoCo", "table3_mamujoco", "return_mean",
          ("expert", "medium", "medium-replay", "medium-expert"), ("mamujoco",), False, "d4rl"),
)}


@dataclass(frozen=True)
class Backend:
    name: str
    module: str            # the module that implements it: VectorEnv, version (and task_spec where it is
                           # not its suites' default); ``envs/simulators.py`` dispatches to it
    description: str       # as a table's caption names it
    caveat: str = ""       # what a caption adds when runs on it only approximate the paper's task


#: every simulator backend
BACKENDS: dict = {b.name: b for b in (
    Backend("smax", "envs.smax_backend", "SMAX (JaxMARL), an approximation of StarCraft II",
            "SMAX only approximates the paper's StarCraft II maps."),
    Backend("sc2", "envs.sc2_backend", "StarCraft II"),
    Backend("mamujoco", "envs.mamujoco_backend", "Gymnasium-Robotics MaMuJoCo (MuJoCo v5 physics)"),
)}

@dataclass(frozen=True)
class Metric:
    name: str              # the scores.csv column
    words: str             # as a caption names it (LaTeX)
    axis: str              # as a figure's axis names it (plain text)
    scale: float = None    # its full range (a percentage: 100); None: statistics pooled over
                           # tasks min-max normalise it per task and quality over the runs
    source: str = ""       # the curve.csv column it is read from (metrics.json: final_<source>); "" for name
    factor: float = 1.0    # scores.csv value = factor x source value (a fraction as a percentage: 100)


#: the scores.csv metrics a table reports; ``final_<name>``, the final evaluation's column
#: of a metric (``train.final_eval_episodes``), is reported as ``<name>`` is (``get_metric``)
METRICS: dict = {m.name: m for m in (
    Metric("win_rate_pct", "win rate (\\%)", "win rate (%)", 100.0, source="win_rate", factor=100.0),
    Metric("return_mean", "episode return", "return"),
)}


def evaluation_columns() -> list:
    """What an evaluation result must hold for the tables (each ``METRICS`` entry's source, e.g.
    ``win_rate``, ``return_mean``): the columns the training loop writes to curve.csv and
    metrics.json, so that a new metric is its ``METRICS`` entry and its value in the result of
    ``envs/simulators.py`` ``evaluate``."""
    return list(dict.fromkeys(m.source or m.name for m in METRICS.values()))


def get_metric(name: str) -> Metric:
    try:
        return METRICS[name.removeprefix("final_")]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; valid metrics: {', '.join(METRICS)}") from None


def suites_of_kind(kind: str) -> list:
    """The suites whose datasets are made the ``kind`` way (``Suite.dataset_kind``)."""
    return [s.name for s in SUITES.values() if s.dataset_kind == kind]


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise KeyError(f"unknown suite {name!r}; valid suites: {', '.join(SUITES)}") from None

"""The benchmark suites of the paper, one entry each: the one table every layer reads a suite from.

A suite's entry says which dataset qualities it has, which backends can run its tasks (the
first is the default), what its tables report (the metric column of ``scores.csv``), and
the name and title of its table.  The task registry (``tasks/registry.py``), the simulator
dispatch (``tasks/simulators.py``), the workflow (table outputs) and the reports
(``analysis/tables.py``, ``analysis/figures.py``) all take these facts from here, so a new
suite is this entry, its tasks in the registry and its backend module.

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


#: every suite, in the paper's table order (Tables 1-3)
SUITES: dict = {s.name: s for s in (
    Suite("smacv1", "SMACv1", "table1_smacv1", "win_rate_pct", ("poor", "medium", "good"),
          ("smax", "sc2"), True),
    Suite("smacv2", "SMACv2", "table2_smacv2", "win_rate_pct", ("medium",), ("smax", "sc2"), True),
    Suite("mamujoco", "MaMuJoCo", "table3_mamujoco", "return_mean",
          ("expert", "medium", "medium-replay", "medium-expert"), ("mamujoco",), False),
)}

@dataclass(frozen=True)
class Backend:
    name: str
    module: str            # the module that implements it (``tasks/simulators.py`` dispatches to it)
    description: str       # as a table's caption names it


#: every simulator backend
BACKENDS: dict = {b.name: b for b in (
    Backend("smax", "tasks.smax_backend", "SMAX (JaxMARL), an approximation of StarCraft II"),
    Backend("sc2", "tasks.sc2_backend", "StarCraft II"),
    Backend("mamujoco", "tasks.mamujoco_backend", "Gymnasium-Robotics MaMuJoCo (MuJoCo v5 physics)"),
)}

#: the scores.csv metrics and how a caption names them
METRIC_WORDS = {"win_rate_pct": "win rate (\\%)", "return_mean": "episode return",
                "final_win_rate_pct": "win rate (\\%)", "final_return_mean": "episode return"}


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise KeyError(f"unknown suite {name!r}; valid suites: {', '.join(SUITES)}") from None

"""Every run's evaluations as marl-eval JSON (``reports/<profile>/marl_eval.json``).

The layout is the one OG-MARL's ``JsonWriter`` (og_marl/loggers.py) and marl-eval's own
``JsonLogger`` write, which marl-eval's ``data_process_pipeline`` and
``create_matrices_for_rliable`` read (github.com/instadeepai/marl-eval, 0.0.4)::

    {environment: {task: {algorithm: {"seed_<seed>": {
        "absolute_metrics": {"episode_return": [r], "win_rate": [w]},
        "step_0": {"step_count": <gradient steps>, "episode_return": [r], "win_rate": [w]},
        "step_1": ...}}}}}

The mapping from this project's results (``scores.csv``: each run's curve.csv rows and its
metrics.json final evaluation, ``analysis/aggregate.py``):

- environment: the suite (``smacv1``, ``smacv2``, ``mamujoco``);
- task: ``<task>_<quality>`` (``5m_vs_6m_medium``): marl-eval has no dataset-quality level, and
  a task is what its statistics stratify over, as a (task, quality) cell is in
  ``analysis/statistics_table.py``;
- algorithm: the algorithm's name, ``<algorithm>-<variant>`` for an ablation variant
  (``ComaDICE-alpha1``); marl-eval lower-cases every key when it loads the file;
- run: ``seed_<seed>``;
- ``step_<k>``: the run's k-th evaluation (0-based, as OG-MARL numbers them), ``step_count`` its
  gradient steps;
- metrics, one-element lists as OG-MARL writes them: ``episode_return`` the mean undiscounted
  episode return over the evaluation's episodes (OG-MARL's metric), and ``win_rate`` the
  fraction of episodes won (in [0, 1], not percent, so that marl-eval's profiles and aggregate
  plots read it on the axis of normalised scores) for the suites whose headline metric is the
  win rate (SMAC);
- ``absolute_metrics``: the final evaluation over ``final_eval_episodes`` episodes
  (metrics.json), or the last evaluation for a run without one.

A diverged run has no scores (NaN in scores.csv, and JSON has no NaN) and fewer evaluations,
while marl-eval reads every algorithm of an environment on the runs and steps of the first: an
algorithm with a diverged run in an environment is therefore left out of that environment as a
whole, and named with its diverged runs by ``marl_eval_data``.
"""
from __future__ import annotations

import json
import math

import pandas as pd

from analysis.score_checks import check_scores
from envs.files import atomic_write_text
from envs.suites import get_suite

#: scores.csv column -> (marl-eval metric, factor from the column's unit to marl-eval's)
MARL_EVAL_METRICS = {"return_mean": ("episode_return", 1.0), "win_rate_pct": ("win_rate", 0.01)}

RUN_KEY = ["suite", "task", "quality", "algorithm", "variant", "seed"]


def algorithm_name(algorithm: str, variant: str) -> str:
    """marl-eval's algorithm key: the name, with ``-<variant>`` for an ablation variant."""
    name = algorithm if variant == "default" else f"{algorithm}-{variant}"
    if "," in name:  # marl-eval separates the two algorithms of a pair with a comma
        raise ValueError(f"algorithm {name!r}: marl-eval's algorithm names cannot hold a comma")
    return name


def task_name(task: str, quality: str) -> str:
    """marl-eval's task key: the task and the dataset quality, ``5m_vs_6m_medium``."""
    return f"{task}_{quality}"


def suite_metrics(suite: str) -> dict:
    """The scores.csv columns written for ``suite`` -> (marl-eval name, factor)."""
    wins = get_suite(suite).metric == "win_rate_pct"
    return {c: m for c, m in MARL_EVAL_METRICS.items() if c != "win_rate_pct" or wins}


def _value(x, factor: float, run: str, column: str) -> list:
    value = float(x) * factor
    if not math.isfinite(value):
        raise ValueError(f"{run}: {column} is {x!r}; marl-eval JSON holds numbers only")
    return [value]


def _run_data(rows: pd.DataFrame, metrics: dict, run: str) -> dict:
    """One run's ``absolute_metrics`` and ``step_<k>`` entries from its evaluations (in step order)."""
    last = rows.iloc[-1]
    absolute = {}
    for column, (name, factor) in metrics.items():
        final = last.get(f"final_{column}")
        source = f"final_{column}" if final is not None and not pd.isna(final) else column
        absolute[name] = _value(last[source], factor, run, source)
    data = {"absolute_metrics": absolute}
    for k, (_, r) in enumerate(rows.iterrows()):
        data[f"step_{k}"] = {"step_count": int(r["step"]),
                             **{name: _value(r[c], f, run, c) for c, (name, f) in metrics.items()}}
    return data


def marl_eval_data(scores: pd.DataFrame) -> tuple[dict, list]:
    """``scores.csv`` as marl-eval's nested dict, and what was left out: one line per
    (environment, algorithm) with a diverged run, naming those runs."""
    check_scores(scores)
    ordered = scores.sort_values(RUN_KEY + ["step"])
    diverged = ordered[ordered["status"] == "diverged"] if "status" in ordered else ordered.iloc[:0]
    dropped = {}
    for key, _ in diverged.groupby(RUN_KEY, sort=False):
        name = "/".join(map(str, key[:5])) + f"/seed{key[5]}"
        dropped.setdefault((key[0], algorithm_name(key[3], key[4])), []).append(name)
    data = {}
    for key, rows in ordered.groupby(RUN_KEY, sort=False):
        suite, task, quality, algorithm, variant, seed = key
        algo = algorithm_name(algorithm, variant)
        if (suite, algo) in dropped:
            continue
        run = "/".join(map(str, key[:5])) + f"/seed{seed}"
        tasks = data.setdefault(suite, {}).setdefault(task_name(task, quality), {})
        tasks.setdefault(algo, {})[f"seed_{int(seed)}"] = _run_data(rows, suite_metrics(suite), run)
    left_out = [f"{algo} left out of {suite}: {len(runs)} run(s) diverged ({', '.join(runs)})"
                for (suite, algo), runs in dropped.items()]
    return data, left_out


def write_marl_eval(scores: pd.DataFrame, path) -> list:
    """Write ``marl_eval_data(scores)`` to ``path`` (indented as OG-MARL's JsonWriter writes it);
    returns what was left out, one line per (environment, algorithm)."""
    data, left_out = marl_eval_data(scores)
    atomic_write_text(path, json.dumps(data, indent=4) + "\n")
    return left_out

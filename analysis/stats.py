"""Statistics beyond mean +- std, as rliable (Agarwal et al. 2021, "Deep RL at the edge of
the statistical precipice") and InstaDeep's marl-eval define them, with numpy / scipy.

- Interquartile mean (IQM): the mean of the middle 50% of scores (trimmed 25% each side).
- Stratified bootstrap: resample runs (seeds) with replacement independently within each
  task, recompute the statistic, take percentile confidence intervals.
- Probability of improvement P(X > Y): per task, the Mann-Whitney U statistic of X's runs
  against Y's divided by n_x * n_y (ties count 1/2), averaged over tasks.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps


def interquartile_mean(x) -> float:
    """Mean of the middle 50% of ``x`` (scipy.stats.trim_mean(x, 0.25))."""
    x = np.asarray(x, dtype=float).ravel()
    return float(sps.trim_mean(x, 0.25))


def _iqm_matrix(m: np.ndarray) -> float:
    return interquartile_mean(m)


def stratified_bootstrap_ci(scores, statistic=_iqm_matrix, n_boot: int = 2000, ci: float = 0.95, seed: int = 0):
    """(point, low, high) of ``statistic`` over a [runs, tasks] matrix, resampling the runs of
    each task independently (rliable's stratified bootstrap) and taking percentiles."""
    m = np.asarray(scores, dtype=float)
    if m.ndim != 2 or m.shape[0] == 0:
        raise ValueError(f"scores must be [runs, tasks] with at least one run, got shape {m.shape}")
    rng = np.random.default_rng(seed)
    runs, tasks = m.shape
    idx = rng.integers(0, runs, size=(n_boot, runs, tasks))
    boots = np.array([statistic(np.take_along_axis(m, idx[k], axis=0)) for k in range(n_boot)])
    lo, hi = np.percentile(boots, [100 * (1 - ci) / 2, 100 * (1 + ci) / 2])
    return float(statistic(m)), float(lo), float(hi)


def _poi_task(x: np.ndarray, y: np.ndarray) -> float:
    gt = (x[:, None] > y[None, :]).sum()
    eq = (x[:, None] == y[None, :]).sum()
    return float((gt + 0.5 * eq) / (len(x) * len(y)))


def probability_of_improvement(x, y) -> float:
    """P(X > Y) averaged over tasks; ``x`` [n_x, tasks], ``y`` [n_y, tasks] (ties count 1/2)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must be [runs, tasks] with the same tasks, got {x.shape} and {y.shape}")
    return float(np.mean([_poi_task(x[:, t], y[:, t]) for t in range(x.shape[1])]))


def probability_of_improvement_ci(x, y, n_boot: int = 2000, ci: float = 0.95, seed: int = 0):
    """(point, low, high): P(X > Y) with a stratified bootstrap over both algorithms' runs."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        xi = np.take_along_axis(x, rng.integers(0, x.shape[0], size=x.shape), axis=0)
        yi = np.take_along_axis(y, rng.integers(0, y.shape[0], size=y.shape), axis=0)
        boots.append(probability_of_improvement(xi, yi))
    lo, hi = np.percentile(boots, [100 * (1 - ci) / 2, 100 * (1 + ci) / 2])
    return probability_of_improvement(x, y), float(lo), float(hi)


def _matrix(df, algo, score_col, algo_col, task_col, seed_col, tasks) -> np.ndarray:
    """[runs, tasks] scores of one algorithm; every task must have the same number of runs."""
    sub = df[df[algo_col] == algo]
    cols = []
    for t in tasks:
        vals = sub[sub[task_col] == t].sort_values(seed_col)[score_col].dropna().to_numpy()
        if len(vals) == 0:
            raise ValueError(f"algorithm {algo!r} has no runs on task {t!r}: the grid is unbalanced")
        cols.append(vals)
    n = min(len(c) for c in cols)
    if any(len(c) != n for c in cols):
        counts = {t: len(c) for t, c in zip(tasks, cols)}
        raise ValueError(f"algorithm {algo!r} has different numbers of runs per task {counts}: the grid is unbalanced")
    return np.stack(cols, axis=1)


def aggregate_table(df: pd.DataFrame, score_col="score", algo_col="algorithm", task_col="task", seed_col="seed",
                    n_boot: int = 2000, ci: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Per algorithm: n_runs, mean and std (population, ddof=0, as the tables) over all runs,
    and the IQM with its stratified-bootstrap CI (iqm, iqm_low, iqm_high)."""
    tasks = sorted(df[task_col].unique())
    rows = {}
    for algo in df[algo_col].unique():
        m = _matrix(df, algo, score_col, algo_col, task_col, seed_col, tasks)
        iqm, lo, hi = stratified_bootstrap_ci(m, n_boot=n_boot, ci=ci, seed=seed)
        rows[algo] = {"n_runs": int(m.size), "mean": float(m.mean()), "std": float(m.std(ddof=0)),
                      "iqm": iqm, "iqm_low": lo, "iqm_high": hi}
    return pd.DataFrame.from_dict(rows, orient="index")


def improvement_table(df: pd.DataFrame, reference_algo: str, score_col="score", algo_col="algorithm",
                      task_col="task", seed_col="seed", n_boot: int = 2000, ci: float = 0.95,
                      seed: int = 0) -> pd.DataFrame:
    """For every other algorithm X: P(reference > X) with its CI (probability, low, high)."""
    tasks = sorted(df[task_col].unique())
    ref = _matrix(df, reference_algo, score_col, algo_col, task_col, seed_col, tasks)
    rows = {}
    for algo in df[algo_col].unique():
        if algo == reference_algo:
            continue
        other = _matrix(df, algo, score_col, algo_col, task_col, seed_col, tasks)
        p, lo, hi = probability_of_improvement_ci(ref, other, n_boot=n_boot, ci=ci, seed=seed)
        rows[algo] = {"probability": p, "low": lo, "high": hi}
    return pd.DataFrame.from_dict(rows, orient="index")

"""Statistics beyond the paper's mean +- std, with numpy / scipy only.

The definitions follow rliable (R. Agarwal, M. Schwarzer, P. S. Castro, A. Courville,
M. G. Bellemare, "Deep Reinforcement Learning at the Edge of the Statistical Precipice",
NeurIPS 2021; github.com/google-research/rliable, ``rliable/metrics.py`` and
``rliable/library.py``) and InstaDeep's marl-eval (github.com/instadeepai/marl-eval), which
applies rliable to multi-agent RL:

- Interquartile mean (IQM): the mean of the middle 50% of all runs' scores, i.e.
  ``scipy.stats.trim_mean(scores, 0.25)`` over the flattened [runs, tasks] matrix.
- Stratified bootstrap: resample the runs (seeds) with replacement independently within
  each task, recompute the statistic, and report the percentile confidence interval.
- Probability of improvement P(X > Y): per task, the Mann-Whitney U statistic of X's runs
  against Y's divided by n_x * n_y (a tie counts 1/2), averaged over tasks with equal
  weight; its interval resamples X's and Y's runs independently within each task.

Scores are matrices [n_runs, n_tasks] (one algorithm).  A NaN entry is a missing run: it is
left out of every statistic and of every bootstrap resample, so tasks may have different
numbers of runs; a task with no run at all is an error, never silently averaged away.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = ["interquartile_mean", "iqm_of_runs", "stratified_bootstrap_ci", "probability_of_improvement",
           "probability_of_improvement_ci", "aggregate_table", "improvement_table"]


# --------------------------------------------------------------------------- helpers

def _check_boot_args(n_boot: int, ci: float) -> None:
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must lie strictly between 0 and 1, got {ci!r}")


def _percentile_interval(boots: np.ndarray, ci: float) -> tuple[float, float]:
    """Percentile bootstrap interval: the (1-ci)/2 and (1+ci)/2 quantiles of the replicates
    (numpy's default linear interpolation; rliable's default method is 'percentile')."""
    lo, hi = np.percentile(boots, [100.0 * (1.0 - ci) / 2.0, 100.0 * (1.0 + ci) / 2.0])
    return float(lo), float(hi)


def _as_run_matrix(scores, name: str = "scores") -> np.ndarray:
    """``scores`` as a float [n_runs, n_tasks] matrix in which every task has a non-NaN run."""
    m = np.asarray(scores, dtype=float)
    if m.ndim != 2 or m.shape[0] == 0 or m.shape[1] == 0:
        raise ValueError(f"{name} must be a [n_runs, n_tasks] matrix with at least one run and one task, "
                         f"got shape {m.shape}")
    if np.isinf(m).any():
        raise ValueError(f"{name} contains infinite values")
    empty = np.flatnonzero(np.isnan(m).all(axis=0))
    if empty.size:
        raise ValueError(f"{name} has no (non-NaN) run on task column(s) {empty.tolist()}")
    return m


def _stratified_indices(m: np.ndarray, n_boot: int, rng: np.random.Generator) -> list:
    """For each task t, an int array [n_boot, k_t] of rows drawn with replacement among the
    k_t observed (non-NaN) rows of column t -- one stratum per task."""
    out = []
    for t in range(m.shape[1]):
        rows = np.flatnonzero(~np.isnan(m[:, t]))
        out.append(rows[rng.integers(0, rows.size, size=(n_boot, rows.size))])
    return out


# --------------------------------------------------------------------------- IQM

def interquartile_mean(x) -> float:
    """Interquartile mean (IQM): the mean of the middle 50% of the values of ``x``.

    Computed as ``scipy.stats.trim_mean(x, 0.25)`` on the flattened array: sort the n
    values, drop the ``int(0.25 * n)`` smallest and as many largest, average the rest.  For
    n a multiple of 4 this is exactly the mean of the second and third quartiles.  This is
    rliable's ``metrics.aggregate_iqm`` (Agarwal et al. 2021, Sec. 4), also used by marl-eval.
    NaN or an empty input is an error (drop missing runs first, or use ``iqm_of_runs``).
    """
    x = np.asarray(x, dtype=float).ravel()
    if x.size == 0:
        raise ValueError("interquartile_mean of an empty array")
    if np.isnan(x).any():
        raise ValueError("interquartile_mean got NaN; drop missing runs first (or use iqm_of_runs)")
    return float(sps.trim_mean(x, 0.25))


def iqm_of_runs(scores) -> float:
    """IQM over every observed (non-NaN) entry of a [n_runs, n_tasks] matrix: rliable's
    aggregate IQM, ``trim_mean(scores, 0.25, axis=None)`` (Agarwal et al. 2021), with NaN
    entries (missing runs) left out.  The default statistic of ``stratified_bootstrap_ci``."""
    m = np.asarray(scores, dtype=float)
    return interquartile_mean(m[~np.isnan(m)])


# --------------------------------------------------------------------------- bootstrap CI

def stratified_bootstrap_ci(scores, statistic: Callable[[np.ndarray], float] | None = None,
                            n_boot: int = 2000, ci: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Point estimate and stratified-bootstrap percentile interval of ``statistic``.

    ``scores`` is one algorithm's [n_runs, n_tasks] matrix (a NaN entry is a missing run).
    Each of the ``n_boot`` replicates resamples, independently within every task (the
    stratum), that task's observed runs with replacement, keeping the number of runs per
    task; ``statistic`` (a function of a [n_runs, n_tasks] matrix returning a float; NaN
    entries of the input stay NaN at the same places) is evaluated on each replicate, and
    the interval is the percentile interval at level ``ci``.  ``statistic=None`` is the IQM
    over all observed entries (``iqm_of_runs``), computed vectorised.  This is rliable's
    ``StratifiedBootstrap`` with ``get_interval_estimates(..., method='percentile')``
    (Agarwal et al. 2021, Sec. 3 / App. A.1).  Deterministic for a given ``seed``.

    Returns ``(point, low, high)`` where ``point = statistic(scores)``.  A percentile interval
    need not contain the point estimate for every statistic and sample, but does in practice
    for the IQM and the mean of non-degenerate data.
    """
    m = _as_run_matrix(scores)
    _check_boot_args(n_boot, ci)
    rng = np.random.default_rng(seed)
    idx = _stratified_indices(m, int(n_boot), rng)
    if statistic is None:
        # every replicate has the same number K of observed entries: [n_boot, K], then IQM per row
        reps = np.concatenate([m[i, t] for t, i in enumerate(idx)], axis=1)
        boots = sps.trim_mean(reps, 0.25, axis=1)
        point = iqm_of_runs(m)
    else:
        boots = np.empty(int(n_boot))
        rep = m.copy()
        for b in range(int(n_boot)):
            for t, i in enumerate(idx):
                rep[~np.isnan(m[:, t]), t] = m[i[b], t]
            boots[b] = float(statistic(rep))
        point = float(statistic(m))
    lo, hi = _percentile_interval(np.asarray(boots, dtype=float), ci)
    return float(point), lo, hi


# --------------------------------------------------------------------------- probability of improvement

def _poi_pairs(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) + 0.5 P(X = Y) over all pairs of the last axis of x ([..., n]) and y ([..., m])."""
    gt = (x[..., :, None] > y[..., None, :]).mean(axis=(-2, -1))
    eq = (x[..., :, None] == y[..., None, :]).mean(axis=(-2, -1))
    return gt + 0.5 * eq


def _paired_matrices(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_run_matrix(x, "x"), _as_run_matrix(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same tasks (columns), got shapes {x.shape} and {y.shape}")
    return x, y


def probability_of_improvement(x, y) -> float:
    """Probability of improvement P(X > Y) of algorithm X over algorithm Y.

    ``x`` is [n_x, n_tasks], ``y`` is [n_y, n_tasks] (n_x and n_y may differ; NaN entries
    are missing runs and are dropped per task).  For every task, the probability that a run
    of X scores higher than a run of Y, ties counting 1/2, i.e. the Mann-Whitney U statistic
    of X against Y divided by n_x * n_y (scipy's ``mannwhitneyu(x, y).statistic / (n_x n_y)``);
    the result is the unweighted average over tasks.  Definition of rliable's
    ``metrics.probability_of_improvement`` (Agarwal et al. 2021, Sec. 4, "Probability of
    improvement"), also marl-eval's.  P(X > Y) + P(Y > X) = 1 exactly.
    """
    x, y = _paired_matrices(x, y)
    per_task = [_poi_pairs(x[~np.isnan(x[:, t]), t], y[~np.isnan(y[:, t]), t]) for t in range(x.shape[1])]
    return float(np.mean(per_task))


def probability_of_improvement_ci(x, y, n_boot: int = 2000, ci: float = 0.95,
                                  seed: int = 0) -> tuple[float, float, float]:
    """P(X > Y) (see ``probability_of_improvement``) with a stratified-bootstrap percentile
    interval: each replicate resamples, within every task, X's runs and Y's runs with
    replacement and independently of each other (rliable's ``StratifiedIndependentBootstrap``,
    Agarwal et al. 2021, App. A.1).  Returns ``(point, low, high)``; deterministic per ``seed``.
    """
    x, y = _paired_matrices(x, y)
    _check_boot_args(n_boot, ci)
    rng = np.random.default_rng(seed)
    ix = _stratified_indices(x, int(n_boot), rng)
    iy = _stratified_indices(y, int(n_boot), rng)
    per_task = [_poi_pairs(x[ix[t], t], y[iy[t], t]) for t in range(x.shape[1])]  # each [n_boot]
    boots = np.mean(per_task, axis=0)
    lo, hi = _percentile_interval(boots, ci)
    return probability_of_improvement(x, y), lo, hi


# --------------------------------------------------------------------------- tidy tables

def _check_columns(df: pd.DataFrame, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"DataFrame lacks column(s) {missing}; it has {list(df.columns)}")
    if df.empty:
        raise ValueError("DataFrame has no rows")


def _task_list(df: pd.DataFrame, task_col: str, tasks) -> list:
    return sorted(df[task_col].unique()) if tasks is None else list(tasks)


def _algo_matrix(df: pd.DataFrame, algo, score_col: str, algo_col: str, task_col: str, seed_col: str,
                 tasks: list) -> np.ndarray:
    """[n_seeds, n_tasks] scores of one algorithm (rows: the seeds it has, NaN where a seed has
    no score on a task).  Raises ValueError naming (algorithm, task) when a task has no
    non-NaN run, and naming the cell when one (algorithm, task, seed) appears twice."""
    sub = df[df[algo_col] == algo]
    dup = sub.duplicated([task_col, seed_col], keep=False)
    if dup.any():
        first = sub[dup].iloc[0]
        raise ValueError(f"algorithm {algo!r} has {int(dup.sum())} duplicated (task, seed) rows, e.g. task "
                         f"{first[task_col]!r} seed {first[seed_col]!r}: one row per run is expected")
    wide = sub.pivot(index=seed_col, columns=task_col, values=score_col).reindex(columns=tasks)
    for t in tasks:
        if wide[t].notna().sum() == 0:
            had = int((sub[task_col] == t).sum())
            why = f" ({had} run(s), all with NaN {score_col!r})" if had else ""
            raise ValueError(f"algorithm {algo!r} has no runs on task {t!r}{why}: the grid is unbalanced")
    return wide.to_numpy(dtype=float)


def aggregate_table(df: pd.DataFrame, score_col: str = "score", algo_col: str = "algorithm",
                    task_col: str = "task", seed_col: str = "seed", n_boot: int = 2000, ci: float = 0.95,
                    seed: int = 0, ddof: int = 0, tasks: Sequence | None = None) -> pd.DataFrame:
    """One row per algorithm (index: algorithm, in order of first appearance) of a tidy frame
    with one row per run (algorithm, task, seed, score), with columns

    - ``n_runs``: number of runs used (rows with a NaN score are dropped and not counted);
    - ``mean``, ``std``: mean and standard deviation over all used runs of all tasks pooled.
      ``std`` is the population standard deviation (``ddof=0``, numpy's default) to match
      ``analysis/score_tables.py``, which renders the ComaDICE paper's "mean +- std over 5 seeds"
      with ddof=0 (the paper does not say which it uses); pass ``ddof=1`` for the sample std,
      which for 5 seeds is sqrt(5/4) ~ 1.118 times larger;
    - ``iqm``, ``iqm_low``, ``iqm_high``: interquartile mean over all used runs and its
      stratified-bootstrap percentile interval at level ``ci`` (``stratified_bootstrap_ci``;
      rliable, Agarwal et al. 2021; marl-eval).

    ``tasks`` defaults to every task in ``df``.  Every algorithm must have at least one
    non-NaN run on every task, otherwise ValueError names the algorithm and the task: an
    unbalanced grid is reported, never silently averaged.  Tasks may have different numbers
    of runs (after dropping NaN); the pooled statistics then weight each run equally.
    """
    _check_columns(df, [score_col, algo_col, task_col, seed_col])
    task_list = _task_list(df, task_col, tasks)
    rows = {}
    for algo in df[algo_col].unique():
        m = _algo_matrix(df, algo, score_col, algo_col, task_col, seed_col, task_list)
        used = m[~np.isnan(m)]
        iqm, lo, hi = stratified_bootstrap_ci(m, None, n_boot=n_boot, ci=ci, seed=seed)
        rows[algo] = {"n_runs": int(used.size), "mean": float(used.mean()),
                      "std": float(used.std(ddof=ddof)) if used.size > ddof else float("nan"),
                      "iqm": iqm, "iqm_low": lo, "iqm_high": hi}
    out = pd.DataFrame.from_dict(rows, orient="index",
                                 columns=["n_runs", "mean", "std", "iqm", "iqm_low", "iqm_high"])
    out.index.name = algo_col
    return out


def improvement_table(df: pd.DataFrame, reference_algo, score_col: str = "score", algo_col: str = "algorithm",
                      task_col: str = "task", seed_col: str = "seed", n_boot: int = 2000, ci: float = 0.95,
                      seed: int = 0, tasks: Sequence | None = None) -> pd.DataFrame:
    """One row per algorithm X other than ``reference_algo`` (index: algorithm, in order of
    first appearance), with columns ``probability`` = P(reference > X) and its
    stratified-bootstrap percentile interval ``low``, ``high`` at level ``ci``
    (``probability_of_improvement_ci``; rliable's probability of improvement, Agarwal et al.
    2021; marl-eval).  Same tidy input, NaN handling and unbalanced-grid ValueError as
    ``aggregate_table``; ValueError too when ``reference_algo`` is not in ``df``.
    """
    _check_columns(df, [score_col, algo_col, task_col, seed_col])
    if reference_algo not in set(df[algo_col]):
        raise ValueError(f"reference algorithm {reference_algo!r} not in column {algo_col!r}")
    task_list = _task_list(df, task_col, tasks)
    ref = _algo_matrix(df, reference_algo, score_col, algo_col, task_col, seed_col, task_list)
    rows = {}
    for algo in df[algo_col].unique():
        if algo == reference_algo:
            continue
        other = _algo_matrix(df, algo, score_col, algo_col, task_col, seed_col, task_list)
        p, lo, hi = probability_of_improvement_ci(ref, other, n_boot=n_boot, ci=ci, seed=seed)
        rows[algo] = {"probability": p, "low": lo, "high": hi}
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["probability", "low", "high"])
    out.index.name = algo_col
    return out

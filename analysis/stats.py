"""Statistics beyond the paper's mean +- std, computed with rliable.

rliable (R. Agarwal, M. Schwarzer, P. S. Castro, A. Courville, M. G. Bellemare, "Deep
Reinforcement Learning at the Edge of the Statistical Precipice", NeurIPS 2021;
github.com/google-research/rliable) supplies the estimators, as InstaDeep's marl-eval
(github.com/instadeepai/marl-eval) does for multi-agent RL:

- Interquartile mean (IQM): ``rliable.metrics.aggregate_iqm``, the mean of the middle 50% of
  all runs' scores (``scipy.stats.trim_mean(scores, 0.25, axis=None)``).
- Stratified bootstrap: ``rliable.library.get_interval_estimates`` resamples the runs (seeds)
  with replacement independently within each task and reports the percentile interval.
- Probability of improvement P(X > Y): ``rliable.metrics.probability_of_improvement``, per task
  the Mann-Whitney U statistic of X's runs against Y's over n_x * n_y, averaged over tasks.
- Performance profiles: ``rliable.library.create_performance_profile``, the fraction of runs
  whose score exceeds each threshold tau, with stratified-bootstrap intervals.

rliable draws its resamples from numpy's global generator (``np.random.choice``; its
``random_state`` argument does not reach the stratified resampling), so every bootstrap here
seeds that generator with ``seed`` and restores its previous state afterwards: a report is the
same on every run and the caller's random stream is untouched.

Scores are matrices [n_runs, n_tasks] (one algorithm).  A NaN entry is a missing run (a diverged
run): the statistics leave it out.  The stratified bootstrap resamples a task's rows including
its missing ones, so a replicate holds a varying number of observed runs per task; a task with
no run at all is an error, never silently averaged away.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
from rliable import library as rly
from rliable import metrics as rlm

__all__ = ["iqm_of_runs", "stratified_bootstrap_ci", "probability_of_improvement",
           "probability_of_improvement_ci", "performance_profiles", "aggregate_table", "improvement_table"]


# --------------------------------------------------------------------------- helpers

def _check_boot_args(n_boot: int, ci: float) -> None:
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must lie strictly between 0 and 1, got {ci!r}")


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
    # a seed with no score on any task is no run at all: it would only dilute the resamples
    return m[~np.isnan(m).all(axis=1)]


@contextmanager
def _seeded_global_rng(seed: int) -> Iterator[None]:
    """numpy's global generator seeded with ``seed`` inside, its previous state restored after."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _interval(score_dict: dict, func: Callable, n_boot: int, ci: float, seed: int) -> tuple[dict, dict]:
    """rliable's stratified-bootstrap percentile intervals of ``func``, reproducible per ``seed``."""
    _check_boot_args(n_boot, ci)
    with _seeded_global_rng(seed):
        return rly.get_interval_estimates(score_dict, func, method="percentile", reps=int(n_boot),
                                          confidence_interval_size=ci)


# --------------------------------------------------------------------------- IQM and bootstrap CI

def iqm_of_runs(scores) -> float:
    """IQM over every observed (non-NaN) entry of a [n_runs, n_tasks] matrix:
    ``rliable.metrics.aggregate_iqm`` with missing runs left out (NaN when none is observed)."""
    m = np.asarray(scores, dtype=float)
    observed = m[~np.isnan(m)]
    return float(rlm.aggregate_iqm(observed)) if observed.size else float("nan")


def stratified_bootstrap_ci(scores, statistic: Callable[[np.ndarray], float] | None = None,
                            n_boot: int = 2000, ci: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Point estimate and stratified-bootstrap percentile interval of ``statistic``.

    ``scores`` is one algorithm's [n_runs, n_tasks] matrix (a NaN entry is a missing run);
    ``statistic`` maps such a matrix to a float and defaults to the IQM (``iqm_of_runs``).
    ``rliable.library.get_interval_estimates`` with its ``StratifiedBootstrap`` (runs resampled
    within each task) and the percentile method, ``n_boot`` replicates at level ``ci``.
    Returns ``(point, low, high)``; deterministic for a given ``seed``.
    """
    m = _as_run_matrix(scores)
    stat = iqm_of_runs if statistic is None else statistic
    points, intervals = _interval({"scores": m}, lambda s: np.array([float(stat(s))]), n_boot, ci, seed)
    low, high = intervals["scores"][:, 0]
    return float(points["scores"][0]), float(low), float(high)


# --------------------------------------------------------------------------- probability of improvement

def _paired_matrices(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_run_matrix(x, "x"), _as_run_matrix(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same tasks (columns), got shapes {x.shape} and {y.shape}")
    return x, y


def _observed_probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """rliable's probability of improvement task by task on each task's observed runs, averaged
    over the tasks where both sides have one (a bootstrap replicate may draw only missing runs)."""
    per_task = []
    for t in range(x.shape[1]):
        xt, yt = x[~np.isnan(x[:, t]), t], y[~np.isnan(y[:, t]), t]
        if xt.size and yt.size:
            per_task.append(rlm.probability_of_improvement(xt[:, None], yt[:, None]))
    return float(np.mean(per_task)) if per_task else float("nan")


def probability_of_improvement(x, y) -> float:
    """Probability of improvement P(X > Y) of algorithm X over algorithm Y.

    ``x`` is [n_x, n_tasks], ``y`` is [n_y, n_tasks] (n_x and n_y may differ; NaN entries are
    missing runs, dropped per task).  Per task, ``rliable.metrics.probability_of_improvement``:
    the probability that a run of X scores higher than a run of Y, ties counting 1/2 (the
    Mann-Whitney U statistic over n_x * n_y); the result is the unweighted mean over tasks.
    P(X > Y) + P(Y > X) = 1.
    """
    x, y = _paired_matrices(x, y)
    return _observed_probability_of_improvement(x, y)


def probability_of_improvement_ci(x, y, n_boot: int = 2000, ci: float = 0.95,
                                  seed: int = 0) -> tuple[float, float, float]:
    """P(X > Y) (see ``probability_of_improvement``) with a stratified-bootstrap percentile
    interval: rliable's ``StratifiedIndependentBootstrap`` resamples, within every task, X's
    runs and Y's runs independently.  Returns ``(point, low, high)``; deterministic per ``seed``.
    """
    x, y = _paired_matrices(x, y)
    points, intervals = _interval({"x,y": (x, y)}, _observed_probability_of_improvement, n_boot, ci, seed)
    low, high = np.ravel(intervals["x,y"])
    return float(points["x,y"]), float(low), float(high)


# --------------------------------------------------------------------------- performance profiles

def _observed_score_distribution(scores: np.ndarray, taus) -> np.ndarray:
    """The fraction of observed (non-NaN) runs scoring above each tau."""
    observed = scores[~np.isnan(scores)]
    return np.array([np.mean(observed > tau) if observed.size else np.nan for tau in taus])


def performance_profiles(score_dict: dict, taus, n_boot: int = 2000, ci: float = 0.95,
                         seed: int = 0) -> tuple[dict, dict]:
    """rliable's performance profiles (``create_performance_profile``, score distributions) of
    ``{algorithm: [n_runs, n_tasks] scores}`` at thresholds ``taus``, with stratified-bootstrap
    percentile intervals: ``(profiles {algo: [len(taus)]}, intervals {algo: [2, len(taus)]})``.
    A missing (NaN) run is left out of the fractions rather than counted below every tau."""
    matrices = {algo: _as_run_matrix(m, str(algo)) for algo, m in score_dict.items()}
    missing = any(np.isnan(m).any() for m in matrices.values())
    _check_boot_args(n_boot, ci)
    with _seeded_global_rng(seed):
        return rly.create_performance_profile(
            matrices, np.asarray(taus, dtype=float),
            custom_profile_func=_observed_score_distribution if missing else None,
            method="percentile", reps=int(n_boot), confidence_interval_size=ci)


# --------------------------------------------------------------------------- tidy tables

def _check_columns(df: pd.DataFrame, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"DataFrame lacks column(s) {missing}; it has {list(df.columns)}")
    if df.empty:
        raise ValueError("DataFrame has no rows")


def _task_list(df: pd.DataFrame, task_col: str, tasks) -> list:
    return sorted(df[task_col].unique()) if tasks is None else list(tasks)


def algorithm_matrix(df: pd.DataFrame, algo, score_col: str = "score", algo_col: str = "algorithm",
                     task_col: str = "task", seed_col: str = "seed", tasks: Sequence | None = None) -> np.ndarray:
    """[n_seeds, n_tasks] scores of one algorithm (rows: the seeds it has, NaN where a seed has
    no score on a task).  Raises ValueError naming (algorithm, task) when a task has no
    non-NaN run, and naming the cell when one (algorithm, task, seed) appears twice."""
    tasks = _task_list(df, task_col, tasks)
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
      stratified-bootstrap percentile interval at level ``ci`` (``stratified_bootstrap_ci``).

    ``tasks`` defaults to every task in ``df``.  Every algorithm must have at least one
    non-NaN run on every task, otherwise ValueError names the algorithm and the task: an
    unbalanced grid is reported, never silently averaged.  Tasks may have different numbers
    of runs (after dropping NaN); the pooled statistics then weight each run equally.
    """
    _check_columns(df, [score_col, algo_col, task_col, seed_col])
    task_list = _task_list(df, task_col, tasks)
    rows = {}
    for algo in df[algo_col].unique():
        m = algorithm_matrix(df, algo, score_col, algo_col, task_col, seed_col, task_list)
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
    (``probability_of_improvement_ci``).  Same tidy input, NaN handling and unbalanced-grid
    ValueError as ``aggregate_table``; ValueError too when ``reference_algo`` is not in ``df``.
    """
    _check_columns(df, [score_col, algo_col, task_col, seed_col])
    if reference_algo not in set(df[algo_col]):
        raise ValueError(f"reference algorithm {reference_algo!r} not in column {algo_col!r}")
    task_list = _task_list(df, task_col, tasks)
    ref = algorithm_matrix(df, reference_algo, score_col, algo_col, task_col, seed_col, task_list)
    rows = {}
    for algo in df[algo_col].unique():
        if algo == reference_algo:
            continue
        other = algorithm_matrix(df, algo, score_col, algo_col, task_col, seed_col, task_list)
        p, lo, hi = probability_of_improvement_ci(ref, other, n_boot=n_boot, ci=ci, seed=seed)
        rows[algo] = {"probability": p, "low": lo, "high": hi}
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["probability", "low", "high"])
    out.index.name = algo_col
    return out

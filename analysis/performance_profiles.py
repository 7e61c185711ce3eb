"""rliable's performance profiles, one figure per suite: for each threshold tau in [0, 1], the
fraction of an algorithm's runs (every seed of every task) whose normalised score exceeds tau,
with stratified-bootstrap 95% bands (Agarwal et al. 2021, Sec. 4; ``analysis/stats.py``).

The scores are those of the statistics table (``normalised_final_scores``: last evaluations of
the default variants; win rates as fractions, returns min-max normalised per (task, quality)
cell), so a profile and the table's IQM describe the same numbers.  A curve lying above another
at every tau is stochastically dominant; the area under a profile is the mean normalised score.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from rliable import plot_utils

from analysis.score_checks import check_scores
from analysis.statistics_table import normalised_final_scores, unscored_cells
from analysis.stats import algorithm_matrix, performance_profiles
from envs.files import atomic_path
from envs.suites import get_suite

#: the thresholds at which each profile is evaluated
TAUS = np.linspace(0.0, 1.0, 101)


def suite_profiles(scores: pd.DataFrame, suite: str, algorithms, n_boot: int = 2000,
                   seed: int = 0) -> tuple[dict, dict]:
    """``(profiles, intervals)`` of ``suite``'s algorithms (those of ``algorithms`` it has, in
    that order) at ``TAUS``; see ``analysis.stats.performance_profiles``."""
    df = normalised_final_scores(scores, suite)
    cells = sorted(df["cell"].unique())
    # an algorithm without a scored run on some cell has no profile (statistics_table names it)
    present = [a for a in algorithms if a in set(df["algorithm"]) and not unscored_cells(df, a)]
    matrices = {a: algorithm_matrix(df, a, task_col="cell", tasks=cells) for a in present}
    return performance_profiles(matrices, TAUS, n_boot=n_boot, seed=seed)


def plot_suite_profiles(scores: pd.DataFrame, suite: str, algorithms, out_png, n_boot: int = 2000,
                        seed: int = 0) -> dict:
    """Draw ``suite``'s performance profiles to ``out_png`` with rliable's
    ``plot_performance_profiles``; returns the profiles drawn ({algorithm: [len(TAUS)]})."""
    check_scores(scores)
    profiles, intervals = suite_profiles(scores, suite, algorithms, n_boot=n_boot, seed=seed)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    plot_utils.plot_performance_profiles(
        profiles, TAUS, performance_profile_cis=intervals, ax=ax,
        xlabel=r"normalised score $\tau$", ylabel=r"fraction of runs with score $> \tau$")
    ax.set_title(f"{get_suite(suite).title}: performance profiles", fontsize="medium")
    ax.legend(fontsize="small", loc="upper right", frameon=False)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return profiles

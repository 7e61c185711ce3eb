"""The statistics beyond the paper's mean +- std, per suite: the interquartile mean (IQM) of
normalised scores with its bootstrap interval and the probability that ComaDICE beats each
algorithm (rliable, ``analysis/stats.py``), as a frame (statistics.csv) and as LaTeX
(statistics.tex)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.latex import render_template
from analysis.score_checks import check_scores
from analysis.stats import aggregate_table, improvement_table
from envs.suites import get_metric, get_suite


def normalised_final_scores(scores: pd.DataFrame, suite: str) -> pd.DataFrame:
    """The last evaluations of the default variants of ``suite`` with a ``cell`` column
    ("task/quality": one task for the statistics) and a ``score`` column in [0, 1]: a metric
    with a full range (``scale`` in envs/suites.py: win rates) divided by it, one without
    (returns) min-max normalised per cell over all runs of the grid (0.5 where every run of the
    cell scores the same), so that cells of different scale can be pooled."""
    final = scores[scores["is_final"] & (scores["variant"] == "default")]
    df = final[final["suite"] == suite].copy()
    metric = get_suite(suite).metric
    scale = get_metric(metric).scale
    df["cell"] = df["task"] + "/" + df["quality"]
    if scale is None:
        lo = df.groupby("cell")[metric].transform("min")
        hi = df.groupby("cell")[metric].transform("max")
        df["score"] = np.where(hi > lo, (df[metric] - lo) / (hi - lo).where(hi > lo, 1), 0.5)
    else:
        df["score"] = df[metric] / scale
    return df


def unscored_cells(df: pd.DataFrame, algorithm: str) -> list:
    """The cells of a suite's frame (``normalised_final_scores``) where ``algorithm`` has no
    score (every run diverged, or none ran): rliable's stratified statistics need every
    algorithm on every cell, so such an algorithm is left out of its suite's, named, not imputed."""
    sub = df[df["algorithm"] == algorithm]
    return [c for c in sorted(df["cell"].unique()) if sub.loc[sub["cell"] == c, "score"].notna().sum() == 0]


def statistics_table(scores: pd.DataFrame, suites, algorithms) -> pd.DataFrame:
    """Per suite and algorithm (default variants, last evaluations): the interquartile mean
    (IQM) of normalised scores (``normalised_final_scores``) with its stratified-bootstrap 95%
    interval over tasks and seeds, and the probability that ComaDICE beats the algorithm
    (rliable, Agarwal et al. 2021, as marl-eval uses it; ``analysis/stats.py``).  A (task,
    quality) cell counts as one task."""
    check_scores(scores)
    rows = []
    for suite in suites:
        df = normalised_final_scores(scores, suite)
        left_out = {a: cells for a in df["algorithm"].unique() if (cells := unscored_cells(df, a))}
        pooled = df[~df["algorithm"].isin(list(left_out))]
        agg = aggregate_table(pooled, score_col="score", algo_col="algorithm", task_col="cell", seed_col="seed")
        imp = improvement_table(pooled, reference_algo="ComaDICE", score_col="score", algo_col="algorithm",
                                task_col="cell", seed_col="seed") if "ComaDICE" in set(pooled["algorithm"]) else None
        for algo in [a for a in algorithms if a in agg.index or a in left_out]:
            if algo in left_out:   # a row that says why it has no statistics, never a missing row
                rows.append({"suite": suite, "algorithm": algo, "n_runs": int((df["algorithm"] == algo).sum()),
                             "left_out": "no scored run on " + ", ".join(left_out[algo]) + " (diverged)"})
                continue
            r = {"suite": suite, "algorithm": algo, **agg.loc[algo].to_dict()}
            if imp is not None and algo in imp.index:
                r.update({f"p_comadice_better_{k}": v for k, v in imp.loc[algo].to_dict().items()})
            rows.append(r)
    return pd.DataFrame(rows)


def render_statistics(table: pd.DataFrame, out_tex) -> str:
    """``statistics_table`` as LaTeX (reports/templates/statistics.tex.j2), a group of rows per suite."""
    compared = any(c.startswith("p_comadice_better_") for c in table.columns)
    groups = []
    for suite, g in table.groupby("suite", sort=False):
        rows = []
        for _, r in g.iterrows():
            left_out = isinstance(r.get("left_out"), str)
            p = compared and r["algorithm"] != "ComaDICE" and not left_out
            name = r["algorithm"] + (" (left out: no scored run, diverged)" if left_out else "")
            rows.append({"algorithm": name, "runs": int(r["n_runs"]), "iqm": r.get("iqm"),
                         "iqm_low": r.get("iqm_low"), "iqm_high": r.get("iqm_high"),
                         "p": r.get("p_comadice_better_probability") if p else None,
                         "p_low": r.get("p_comadice_better_low"), "p_high": r.get("p_comadice_better_high")})
        groups.append({"title": get_suite(suite).title, "rows": rows})
    return render_template("statistics.tex.j2", out_tex, groups=groups)

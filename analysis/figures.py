"""Figure 1 of the paper: ComaDICE's performance against alpha (Sec. 6.4).

One panel per suite of the ablation: the mean over that suite's tasks (and qualities) of
the last evaluation of the suite's metric (envs/suites.py: win rate in percent for SMAC,
return for MaMuJoCo) for each alpha, with the spread over seeds (mean over tasks computed
per seed, then mean +- std over seeds) as a band.  Log-scaled alpha axis, as in the paper.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from analysis.score_checks import check_scores
from envs.files import atomic_path
from envs.suites import get_metric, get_suite


def _save(fig, path, **kw) -> None:
    """``fig.savefig`` written atomically with an ordinary file mode (the format from the suffix)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, **kw)


def alpha_frame(scores: pd.DataFrame, alpha_variants: dict, suites, cells: dict = None) -> pd.DataFrame:
    """Tidy frame: suite, alpha, seed, value (mean over the suite's cells for that seed).

    A run that diverged has no result (its last evaluation is not a number of the method), so
    it is left out; a seed of which any cell diverged, or lacks a run or a value, is left out at
    that alpha as a whole, because a mean over fewer cells would mix cells of different scale.
    The suite's cells are ``cells[suite]`` (the grid's (task, quality) pairs) or else every cell
    any alpha of the suite has, so a cell missing at one alpha is noticed.  Per (suite, alpha)
    (the same on every row of that alpha): ``left_out`` counts the seeds left out for a diverged
    run, ``missing`` those left out for a cell without a run or value; an alpha whose every seed
    was left out has no row (the scores are checked first: ``analysis/score_checks.py``)."""
    check_scores(scores)
    rows = []
    final = scores[scores["is_final"] & (scores["algorithm"] == "ComaDICE")]
    for suite in suites:
        metric = get_suite(suite).metric
        swept = final[(final["suite"] == suite) & final["variant"].isin(list(alpha_variants.values()))]
        expected = set(map(tuple, (cells or {}).get(suite) or zip(swept["task"], swept["quality"], strict=False)))
        seeds = sorted(set(swept["seed"]))
        for alpha, variant in alpha_variants.items():
            df = swept[swept["variant"] == variant]
            kept, left_out, missing = [], 0, 0
            for seed in seeds:
                g = df[df["seed"] == seed]
                if "status" in g and (g["status"] == "diverged").any():
                    left_out += 1
                    continue
                ok = g[g[metric].notna()] if metric in g else g.iloc[:0]
                if set(zip(ok["task"], ok["quality"], strict=False)) != expected:
                    missing += 1
                    continue
                kept.append({"suite": suite, "alpha": float(alpha), "seed": seed, "value": ok[metric].mean(),
                             "cells": len(ok)})
            rows += [{**r, "left_out": left_out, "missing": missing} for r in kept]
    return pd.DataFrame(rows, columns=["suite", "alpha", "seed", "value", "cells", "left_out", "missing"])


def plot_alpha(frame: pd.DataFrame, out_pdf, out_png, note: str = "") -> None:
    if frame.empty:
        raise ValueError("no ComaDICE runs of the alpha ablation in the scores: nothing to plot")
    sns.set_theme(style="whitegrid", context="paper", font_scale=1.1)
    suites = list(dict.fromkeys(frame["suite"]))
    fig, axes = plt.subplots(1, len(suites), figsize=(4.2 * len(suites), 3.3), squeeze=False)
    for ax, suite in zip(axes[0], suites, strict=False):
        df = frame[frame["suite"] == suite]
        stats = df.groupby("alpha")["value"].agg(["mean", "std", "count"]).reset_index().sort_values("alpha")
        stats["std"] = stats["std"].fillna(0.0)
        ax.plot(stats["alpha"], stats["mean"], marker="o", color="C3", label="ComaDICE")
        ax.fill_between(stats["alpha"], stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                        color="C3", alpha=0.2, linewidth=0)
        ax.set_xscale("log")
        ax.set_xticks(stats["alpha"])
        ax.set_xticklabels([f"{a:g}" for a in stats["alpha"]])
        ax.set_xlabel(r"$\alpha$")
        ax.set_ylabel(get_metric(get_suite(suite).metric).axis)
        ax.set_title(f"{get_suite(suite).title} (mean over tasks, {int(stats['count'].max())} seeds)")
        # an alpha with fewer seeds (the others diverged on some cell) says so beside its point
        for a, m, c in zip(stats["alpha"], stats["mean"], stats["count"], strict=False):
            if c < stats["count"].max():
                ax.annotate(f"{int(c)} seed{'s' if c != 1 else ''}", (a, m), textcoords="offset points",
                            xytext=(0, 6), ha="center", fontsize=7)
    if note:
        fig.text(0.5, -0.02, note, ha="center", va="top", fontsize=8)
    fig.tight_layout()
    _save(fig, out_pdf, bbox_inches="tight")
    _save(fig, out_png, dpi=150, bbox_inches="tight")
    plt.close(fig)


def curve_frame(scores: pd.DataFrame, suite: str, task: str, quality: str) -> pd.DataFrame:
    """Learning curves of one (suite, task, quality): per algorithm (default variants) and
    evaluation step, the mean and std over seeds of the suite's metric (win rate in percent
    for SMAC, return for MaMuJoCo) and the number of seeds."""
    metric = get_suite(suite).metric
    df = scores[(scores["suite"] == suite) & (scores["task"] == task) & (scores["quality"] == quality)
                & (scores["variant"] == "default")]
    g = df.groupby(["algorithm", "step"])[metric]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


def plot_learning_curve(frame: pd.DataFrame, suite: str, title: str, out_png, algorithms=None,
                        note: str = "") -> None:
    """One line per algorithm (mean over seeds) with a +- std band, against gradient steps."""
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    order = [a for a in (algorithms or sorted(frame["algorithm"].unique())) if a in set(frame["algorithm"])]
    colours = sns.color_palette("tab10", n_colors=max(len(order), 1))
    for colour, algo in zip(colours, order, strict=False):
        d = frame[frame["algorithm"] == algo].sort_values("step")
        ax.plot(d["step"], d["mean"], label=algo, color=colour, lw=1.4)
        ax.fill_between(d["step"], d["mean"] - d["std"], d["mean"] + d["std"], color=colour, alpha=0.15, lw=0)
    ax.set_xlabel("gradient steps")
    ax.set_ylabel(get_metric(get_suite(suite).metric).axis)
    ax.set_title(title, fontsize=9)
    if order:
        ax.legend(fontsize=6, ncol=2, frameon=False)
    if note:
        fig.text(0.01, 0.01, note, fontsize=5, color="0.4")
    fig.tight_layout()
    _save(fig, out_png, dpi=150)
    plt.close(fig)

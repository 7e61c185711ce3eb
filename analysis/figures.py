"""Figure 1 of the paper: ComaDICE's performance against alpha (Sec. 6.4).

One panel per suite of the ablation: the mean over that suite's tasks (and qualities) of
the last evaluation -- win rate in percent for SMAC, return for MaMuJoCo -- for each alpha,
with the spread over seeds (mean over tasks computed per seed, then mean +- std over
seeds) as a band.  Log-scaled alpha axis, as in the paper.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from analysis.tables import SUITE_METRIC, SUITE_TITLES  # noqa: E402


def alpha_frame(scores: pd.DataFrame, alpha_variants: dict, suites) -> pd.DataFrame:
    """Tidy frame: suite, alpha, seed, value (mean over the suite's cells for that seed)."""
    rows = []
    final = scores[scores["is_final"] & (scores["algorithm"] == "ComaDICE")]
    for suite in suites:
        metric = SUITE_METRIC[suite]
        for alpha, variant in alpha_variants.items():
            df = final[(final["suite"] == suite) & (final["variant"] == variant)]
            for seed, g in df.groupby("seed"):
                rows.append({"suite": suite, "alpha": float(alpha), "seed": seed, "value": g[metric].mean(),
                             "cells": len(g)})
    return pd.DataFrame(rows)


def plot_alpha(frame: pd.DataFrame, out_pdf, out_png, note: str = "") -> None:
    if frame.empty:
        raise ValueError("no ComaDICE runs of the alpha ablation in the scores: nothing to plot")
    sns.set_theme(style="whitegrid", context="paper", font_scale=1.1)
    suites = list(dict.fromkeys(frame["suite"]))
    fig, axes = plt.subplots(1, len(suites), figsize=(4.2 * len(suites), 3.3), squeeze=False)
    for ax, suite in zip(axes[0], suites):
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
        ax.set_ylabel("win rate (%)" if SUITE_METRIC[suite] == "win_rate_pct" else "return")
        ax.set_title(f"{SUITE_TITLES[suite]} (mean over tasks, {int(stats['count'].max())} seeds)")
    if note:
        fig.text(0.5, -0.02, note, ha="center", va="top", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_pdf, bbox_inches="tight")
    fig.savefig(out_png, dpi=150, bbox_inches="tight")
    plt.close(fig)

"""Tables 1-3 in the paper's layout, rendered to LaTeX with jinja2 (and written as CSV).

Rows are task x quality (grouped by task), columns the algorithms in the paper's order,
cells the mean +- std over seeds of the last evaluation of training (the paper's
statistic): win rate in percent for SMAC, return for MaMuJoCo.  The best mean of each
row is bold (ties too).  A cell without runs is shown as "--" and counted in the caption,
never as zero.  std is the population standard deviation over seeds (ddof=0).
"""
from __future__ import annotations

import math
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from envs.registry import get_task

TEMPLATES = Path(__file__).resolve().parent.parent / "reports" / "templates"
SUITE_TITLES = {"smacv1": "SMACv1", "smacv2": "SMACv2", "mamujoco": "MaMuJoCo"}
SUITE_METRIC = {"smacv1": "win_rate_pct", "smacv2": "win_rate_pct", "mamujoco": "return_mean"}
QUALITY_ORDER = ["poor", "medium", "good", "expert", "medium-replay", "medium-expert"]


def latex_escape(s: str) -> str:
    return (str(s).replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("%", r"\%")
            .replace("&", r"\&").replace("#", r"\#"))


def cell_stats(scores: pd.DataFrame, suite: str, algorithms, metric: str = None, variant: str = "default"):
    """mean, std (ddof=0) and n over seeds of the final evaluation, per (task, quality, algorithm)."""
    metric = metric or SUITE_METRIC[suite]
    df = scores[(scores["suite"] == suite) & scores["is_final"] & (scores["variant"] == variant)]
    df = df[df["algorithm"].isin(algorithms)]
    g = df.groupby(["task", "quality", "algorithm"])[metric]
    stats = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=0), "n": g.count()}).reset_index()
    return stats


def build_table(scores: pd.DataFrame, suite: str, algorithms, metric: str = None, variant: str = "default",
                decimals: int = 1) -> tuple:
    """Returns (tidy CSV frame, template context) for one suite."""
    metric = metric or SUITE_METRIC[suite]
    stats = cell_stats(scores, suite, algorithms, metric, variant)
    cells = stats.set_index(["task", "quality", "algorithm"])
    keys = sorted({(t, q) for t, q in zip(stats["task"], stats["quality"])},
                  key=lambda k: (k[0], QUALITY_ORDER.index(k[1]) if k[1] in QUALITY_ORDER else 99))
    groups, rows_csv, missing = [], [], 0
    seeds = sorted(scores[(scores["suite"] == suite) & scores["is_final"]]["seed"].unique())
    unbalanced = []
    for task in dict.fromkeys(t for t, _ in keys):
        rows = []
        for t, quality in [k for k in keys if k[0] == task]:
            means = {}
            for a in algorithms:
                if (t, quality, a) in cells.index and not math.isnan(cells.loc[(t, quality, a), "mean"]):
                    means[a] = cells.loc[(t, quality, a), "mean"]
            best = max(means.values()) if means else None
            row_cells = []
            for a in algorithms:
                if a not in means:
                    missing += 1
                    row_cells.append("--")
                    rows_csv.append({"suite": suite, "task": t, "quality": quality, "algorithm": a,
                                     "metric": metric, "mean": np.nan, "std": np.nan, "n_seeds": 0})
                    continue
                c = cells.loc[(t, quality, a)]
                if int(c["n"]) != len(seeds):
                    unbalanced.append(f"{t}/{quality}/{a} ({int(c['n'])} of {len(seeds)} seeds)")
                text = f"{c['mean']:.{decimals}f} $\\pm$ {c['std']:.{decimals}f}"
                if round(c["mean"], decimals) == round(best, decimals):
                    text = f"\\textbf{{{text}}}"
                row_cells.append(text)
                rows_csv.append({"suite": suite, "task": t, "quality": quality, "algorithm": a, "metric": metric,
                                 "mean": c["mean"], "std": c["std"], "n_seeds": int(c["n"])})
            rows.append({"quality": latex_escape(quality), "cells": row_cells})
        display = get_task(task, suite).display
        groups.append({"task": latex_escape(display), "rows": rows})
    return pd.DataFrame(rows_csv), {"groups": groups, "missing": missing, "unbalanced": unbalanced,
                                    "seeds": seeds}


def caption(scores: pd.DataFrame, suite: str, ctx: dict, metric: str) -> str:
    df = scores[(scores["suite"] == suite) & scores["is_final"]]
    backends = sorted(df["backend"].dropna().unique())
    approx = bool(df["approximation"].any())
    grades = sorted(df["dataset_grade"].dropna().unique())
    episodes = sorted(df["eval_episodes"].dropna().astype(int).unique())
    what = "win rate (\\%)" if metric == "win_rate_pct" else "episode return"
    parts = [f"{SUITE_TITLES[suite]}: {what}, mean $\\pm$ std over {len(ctx['seeds'])} seeds of the last "
             f"evaluation ({', '.join(map(str, episodes))} episodes)."]
    bk = {"smax": "SMAX (JaxMARL), an approximation of StarCraft II",
          "mamujoco": "Gymnasium-Robotics MaMuJoCo (MuJoCo v5 physics)",
          "sc2": "StarCraft II"}
    parts.append("Backend: " + "; ".join(bk.get(b, b) for b in backends) + "."
                 + (" Some tasks are approximations of the paper's maps." if approx and suite != "mamujoco" else ""))
    parts.append("Datasets: " + ", ".join(f"{g}-grade" for g in grades) + " (generated by this harness, "
                 "not the paper's files).")
    if ctx["missing"]:
        parts.append(f"{ctx['missing']} cell(s) missing (--).")
    if ctx["unbalanced"]:
        parts.append("Unbalanced cells: " + latex_escape("; ".join(ctx["unbalanced"])) + ".")
    parts.append("Best mean per row in bold.")
    return " ".join(parts)


def render(scores: pd.DataFrame, suite: str, algorithms, out_tex, out_csv=None, metric: str = None,
           variant: str = "default", label: str = None) -> str:
    metric = metric or SUITE_METRIC[suite]
    frame, ctx = build_table(scores, suite, algorithms, metric, variant)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), block_start_string="<%",
                             block_end_string="%>", variable_start_string="<<", variable_end_string=">>",
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    tex = env.get_template("table.tex.j2").render(
        algorithms=[latex_escape(a) for a in algorithms], groups=ctx["groups"],
        caption=caption(scores, suite, ctx, metric), label=label or f"tab:{suite}")
    Path(out_tex).write_text(tex)
    if out_csv:
        frame.to_csv(out_csv, index=False)
    return tex

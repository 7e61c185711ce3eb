"""Figure 1's alpha sweep beside the authors' notebook, for RESULTS.md: per suite and alpha the
mean over seeds (``analysis/figures.py`` alpha_frame), per cell and alpha ComaDICE's last
evaluation beside the notebook's (``analysis/data/paper_ablations.csv``), and the peaks."""
from __future__ import annotations

import math

import pandas as pd

from analysis import markdown as md
from analysis.paper_comparison import FOCUS, PAPER_DATA
from envs.registry import get_task
from envs.suites import get_metric, get_suite
from pipeline.grid import variant_for

#: the notebook's default f-divergence: its alpha sweep is at soft-chi^2 (paper Sec. 6.4)
NOTEBOOK_DEFAULT_F = "soft_chisquare"


def alpha_summary(scores: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Figure 1's numbers: per suite and alpha, the mean over seeds of the per-seed mean over
    the suite's cells (analysis/figures.py alpha_frame), its std over seeds and the seeds."""
    from analysis.figures import alpha_frame
    abl = config.get("ablations") or {}
    variants = {a: variant_for(config, "alpha", a) for a in abl.get("alpha", [])}
    cells = {s: [(t, q) for t in config["suites"][s]["tasks"] for q in config["suites"][s]["qualities"]]
             for s in abl.get("suites", []) if s in config["suites"]}
    frame = alpha_frame(scores, variants, abl.get("suites", []), cells)
    if frame.empty:
        return pd.DataFrame(columns=["suite", "alpha", "mean", "std", "seeds", "left_out", "missing"])
    out = frame.groupby(["suite", "alpha"], sort=False).agg(mean=("value", "mean"), std=("value", "std"),
                                                           seeds=("value", "count"), left_out=("left_out", "first"),
                                                           missing=("missing", "first"))
    return out.reset_index().sort_values(["suite", "alpha"], kind="stable")


def paper_ablations() -> pd.DataFrame:
    """The authors' notebook's ComaDICE against alpha (soft-chi^2), per cell (analysis/data)."""
    df = pd.read_csv(PAPER_DATA / "paper_ablations.csv")
    return df[df["f_divergence"] == NOTEBOOK_DEFAULT_F].reset_index(drop=True)


def alpha_cells(scores: pd.DataFrame, config: dict, notebook: pd.DataFrame = None) -> pd.DataFrame:
    """Per cell of the alpha sweep and alpha: ComaDICE's last evaluation here (mean, ddof-0 std
    over seeds, as the tables) beside the authors' notebook's (``paper_ablations.csv``)."""
    nb = paper_ablations() if notebook is None else notebook
    abl = config.get("ablations") or {}
    final = scores[scores["is_final"] & (scores["algorithm"] == FOCUS)]
    rows = []
    for suite in abl.get("suites", []):
        metric = get_suite(suite).metric
        spec = config["suites"].get(suite) or {}
        for task in spec.get("tasks", []):
            for quality in spec.get("qualities", []):
                for alpha in abl.get("alpha", []):
                    g = final[(final["suite"] == suite) & (final["task"] == task) & (final["quality"] == quality)
                              & (final["variant"] == variant_for(config, "alpha", alpha))]
                    p = nb[(nb["suite"] == suite) & (nb["task"] == task) & (nb["quality"] == quality)
                           & (nb["alpha"].astype(float) == float(alpha))]
                    ok = g[g["status"] == "ok"][metric]
                    rows.append({"suite": suite, "task": task, "quality": quality, "alpha": float(alpha),
                                 "mean": float(ok.mean()) if len(ok) else math.nan,
                                 "std": float(ok.std(ddof=0)) if len(ok) else math.nan,
                                 "seeds": int(len(ok)), "diverged": int((g["status"] == "diverged").sum()),
                                 "paper_mean": float(p["mean"].iloc[0]) if len(p) else math.nan,
                                 "paper_std": float(p["std"].iloc[0]) if len(p) else math.nan})
    return pd.DataFrame(rows, columns=["suite", "task", "quality", "alpha", "mean", "std", "seeds", "diverged",
                                       "paper_mean", "paper_std"])


def _peak(values: dict):
    """The alpha of the largest mean (None without any)."""
    values = {a: v for a, v in values.items() if v == v}
    return max(values, key=values.get) if values else None


def _diverged_note(cell) -> str:
    """' (k of n diverged)' where some seeds of an alpha-sweep cell diverged (their numbers are
    not in its mean), '' otherwise."""
    k = int(cell["diverged"])
    return f" ({k} of {k + int(cell['seeds'])} diverged)" if k else ""


def _left_out(a: pd.DataFrame, x: float) -> str:
    """Why a suite's mean at alpha ``x`` lacks seeds: a seed of which some cell diverged or lacks
    a value is not in it."""
    if x not in a.index:
        return " (no seed has every cell)"
    k, m, n = int(a.loc[x, "left_out"]), int(a.loc[x, "missing"]), int(a.loc[x, "seeds"])
    why = [f"{k} left out, diverged"] if k else []
    why += [f"{m} left out, a cell without a value"] if m else []
    return f" ({n} seed{'s' if n != 1 else ''}; {'; '.join(why)})" if why else ""


def _suite_rows(suite: str, a: pd.DataFrame, notebook: pd.Series, alphas: list, d: int) -> list:
    """A suite's two rows: ours (with the seeds left out) and the notebook's over the same cells."""
    ours_by = {x: float(a.loc[x, "mean"]) if x in a.index else math.nan for x in alphas}
    # a peak over fewer alphas than swept is no peak: "–" and the alphas without a value say why
    complete = all(x in a.index for x in alphas)
    ours = [get_suite(suite).title + " (ours)",
            *[md.num(ours_by[x], d, float(a.loc[x, "std"]) if x in a.index else None) + _left_out(a, x)
              for x in alphas],
            f"alpha = {_peak(ours_by):g}" if complete and _peak(ours_by) is not None else "–"]
    nb_by = {x: float(notebook.get(x, math.nan)) for x in alphas}
    theirs = [get_suite(suite).title + " (notebook, same cells)", *[md.num(nb_by[x], d) for x in alphas],
              f"alpha = {_peak(nb_by):g}" if _peak(nb_by) is not None else "–"]
    return [ours, theirs]


def _cell_row(suite: str, task: str, quality: str, c: pd.DataFrame, alphas: list, d: int) -> tuple:
    """A cell's row (ours / the notebook's per alpha, and each side's peak) and its two peaks."""
    o = {x: c.loc[x, "mean"] for x in alphas if x in c.index}
    p = {x: c.loc[x, "paper_mean"] for x in alphas if x in c.index}
    po, pp = _peak(o), _peak(p)
    row = [get_task(task, suite).display, quality,
           *[md.num(c.loc[x, "mean"], d, c.loc[x, "std"]) + _diverged_note(c.loc[x])
             + " / " + md.num(c.loc[x, "paper_mean"], d) if x in c.index else "–" for x in alphas],
           f"{po:g}" if po is not None else "–", f"{pp:g}" if pp is not None else "–"]
    return row, (po, pp)


def alpha_tables(alpha: pd.DataFrame, cells: pd.DataFrame, config: dict) -> dict:
    """Figure 1 per suite (ours; the notebook's mean over the same cells) and per cell, as
    Markdown tables (``analysis/markdown.py`` table), and in how many cells the peaks agree."""
    alphas = sorted({float(a) for a in (config.get("ablations") or {}).get("alpha", [])})
    suite_rows, cell_rows, peaks = [], [], []
    for suite, g in cells.groupby("suite", sort=False):
        d = 1 if get_metric(get_suite(suite).metric).scale else 0
        suite_rows += _suite_rows(suite, alpha[alpha["suite"] == suite].set_index("alpha"),
                                  g.groupby("alpha")["paper_mean"].mean(), alphas, d)
        for (task, quality), c in g.groupby(["task", "quality"], sort=False):
            row, peak = _cell_row(suite, task, quality, c.set_index("alpha"), alphas, d)
            cell_rows.append(row)
            peaks.append(peak)
    header = [f"alpha {x:g}" for x in alphas]
    return {"suite_table": md.table(["suite", *header, "peak"], suite_rows),
            "cell_table": md.table(["task", "quality", *header, "peak (ours)", "peak (notebook)"], cell_rows),
            "same_peak": sum(1 for po, pp in peaks if po is not None and po == pp), "cells": len(peaks)}

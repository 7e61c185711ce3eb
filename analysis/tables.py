"""Tables 1-3 in the paper's layout, their appendix companions, and the paper side by side.

Rows are task x quality (grouped by task), columns algorithms (the paper's order) or
ComaDICE variants (ablations); a cell is the mean +- std over seeds of the last
evaluation of training (the paper's statistic): win rate in percent for SMAC, return
for MaMuJoCo.  The best mean of each row is bold (ties too).  A cell without runs is
shown as "--" and counted in the caption, never as zero; a cell with fewer seeds than
the grid is reported in the caption.  std is the population standard deviation over
seeds (ddof=0).  Rendered with jinja2 (reports/templates/), each table also as CSV.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from tasks.files import atomic_path, atomic_write_text
from tasks.registry import get_task

TEMPLATES = Path(__file__).resolve().parent.parent / "reports" / "templates"
PAPER_DATA = Path(__file__).resolve().parent / "data"
SUITE_TITLES = {"smacv1": "SMACv1", "smacv2": "SMACv2", "mamujoco": "MaMuJoCo"}
SUITE_METRIC = {"smacv1": "win_rate_pct", "smacv2": "win_rate_pct", "mamujoco": "return_mean"}
METRIC_WORDS = {"win_rate_pct": "win rate (\\%)", "return_mean": "episode return",
                "final_win_rate_pct": "win rate (\\%)", "final_return_mean": "episode return"}
QUALITY_ORDER = ["poor", "medium", "good", "expert", "medium-replay", "medium-expert"]
BACKEND_WORDS = {"smax": "SMAX (JaxMARL), an approximation of StarCraft II",
                 "mamujoco": "Gymnasium-Robotics MaMuJoCo (MuJoCo v5 physics)", "sc2": "StarCraft II",
                 "imported": "the paper's published datasets"}


@dataclass(frozen=True)
class Column:
    label: str          # header text
    algorithm: str
    variant: str = "default"


def latex_escape(s) -> str:
    return (str(s).replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("%", r"\%")
            .replace("&", r"\&").replace("#", r"\#"))


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), block_start_string="<%",
                              block_end_string="%>", variable_start_string="<<", variable_end_string=">>",
                              comment_start_string="<#", comment_end_string="#>",
                              trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def _row_keys(df: pd.DataFrame) -> list:
    keys = {(s, t, q) for s, t, q in zip(df["suite"], df["task"], df["quality"])}
    return sorted(keys, key=lambda k: (list(SUITE_METRIC).index(k[0]), k[1],
                                       QUALITY_ORDER.index(k[2]) if k[2] in QUALITY_ORDER else 99))


def build_table(scores: pd.DataFrame, suites, columns, metric: str = None, decimals: int = 1,
                rows: list = None) -> tuple:
    """(tidy frame of every cell, template context).  ``metric`` None: each suite's own."""
    final = scores[scores["is_final"] & scores["suite"].isin(list(suites))]
    keys = rows if rows is not None else _row_keys(final)
    seeds = sorted(final["seed"].unique())
    groups, records, missing, unbalanced, diverged = [], [], 0, [], []
    for suite, task, quality in keys:
        m = metric or SUITE_METRIC[suite]
        cell_df = final[(final["suite"] == suite) & (final["task"] == task) & (final["quality"] == quality)]
        stats, diverged_runs = {}, {}
        for col in columns:
            runs = cell_df[(cell_df["algorithm"] == col.algorithm) & (cell_df["variant"] == col.variant)]
            n_div = int((runs["status"] == "diverged").sum()) if "status" in runs else 0
            if n_div:  # a cell with a diverged seed is shown as diverged, never as a number
                diverged_runs[col] = (n_div, len(runs))
                continue
            vals = runs[m].dropna() if m in cell_df else pd.Series(dtype=float)
            if len(vals):
                stats[col] = (float(vals.mean()), float(vals.std(ddof=0)), len(vals))
        best = max(round(v[0], decimals) for v in stats.values()) if stats else None
        texts = []
        for col in columns:
            if col in diverged_runs:
                k, n = diverged_runs[col]
                diverged.append(f"{task}/{quality}/{col.label} ({k} of {n} seeds)")
                texts.append(f"div.\\ {k}/{n}")
                records.append({"suite": suite, "task": task, "quality": quality, "column": col.label,
                                "algorithm": col.algorithm, "variant": col.variant, "metric": m,
                                "mean": np.nan, "std": np.nan, "n_seeds": n - k, "n_diverged": k})
                continue
            if col not in stats:
                missing += 1
                texts.append("--")
                records.append({"suite": suite, "task": task, "quality": quality, "column": col.label,
                                "algorithm": col.algorithm, "variant": col.variant, "metric": m,
                                "mean": np.nan, "std": np.nan, "n_seeds": 0, "n_diverged": 0})
                continue
            mean, std, n = stats[col]
            if n != len(seeds):
                unbalanced.append(f"{task}/{quality}/{col.label} ({n} of {len(seeds)} seeds)")
            text = f"{mean:.{decimals}f} $\\pm$ {std:.{decimals}f}"
            texts.append(f"\\textbf{{{text}}}" if round(mean, decimals) == best else text)
            records.append({"suite": suite, "task": task, "quality": quality, "column": col.label,
                            "algorithm": col.algorithm, "variant": col.variant, "metric": m,
                            "mean": mean, "std": std, "n_seeds": n, "n_diverged": 0})
        display = latex_escape(get_task(task, suite).display)
        if groups and groups[-1]["key"] == (suite, task):
            groups[-1]["rows"].append({"quality": latex_escape(quality), "cells": texts})
        else:
            groups.append({"key": (suite, task), "task": display, "rows": [{"quality": latex_escape(quality),
                                                                           "cells": texts}]})
    ctx = {"groups": groups, "missing": missing, "unbalanced": unbalanced, "diverged": diverged, "seeds": seeds,
           "header": [c.label if "$" in c.label else latex_escape(c.label) for c in columns]}
    return pd.DataFrame(records), ctx


def caption(scores: pd.DataFrame, suites, ctx: dict, title: str, metric: str = None) -> str:
    df = scores[scores["is_final"] & scores["suite"].isin(list(suites))]
    metrics = sorted({metric or SUITE_METRIC[s] for s in suites})
    what = " / ".join(METRIC_WORDS[m] for m in metrics)
    if len(metrics) > 1:
        what = "win rate (\\%) for SMAC tasks, episode return for MaMuJoCo tasks"
    episodes = sorted(df["eval_episodes"].dropna().astype(int).unique())
    if metric and metric.startswith("final_"):
        episodes = sorted(df["final_eval_episodes"].dropna().astype(int).unique())
        when = "a final evaluation of the last policy"
    else:
        when = "the last evaluation of training"
    parts = [f"{title}: {what}, mean $\\pm$ std over {len(ctx['seeds'])} seeds of {when} "
             f"({', '.join(map(str, episodes))} episodes each)."]
    backends = sorted(df["backend"].dropna().unique())
    parts.append("Backend: " + "; ".join(BACKEND_WORDS.get(b, b) for b in backends) + ".")
    if df["approximation"].astype(bool).any() and set(suites) & {"smacv1", "smacv2"}:
        parts.append("SMAX only approximates the paper's StarCraft II maps.")
    grades = sorted(df["dataset_grade"].dropna().unique())
    words = {"smoke": "smoke-grade datasets generated by this harness (not the paper's)",
             "paper": "datasets made as the paper's were", "imported": "the paper's published datasets"}
    parts.append("Data: " + "; ".join(words.get(g, g) for g in grades) + ".")
    mixed = mixed_code_versions(df)
    if mixed:
        parts.append("Mixed code versions: " + latex_escape(mixed) + ".")
    if ctx["missing"]:
        parts.append(f"{ctx['missing']} cell(s) missing (--).")
    if ctx.get("diverged"):
        parts.append(f"{len(ctx['diverged'])} cell(s) diverged (div. k/n: k of n seeds left sane bounds and "
                     "were stopped; no number is shown): " + latex_escape("; ".join(ctx["diverged"])) + ".")
    if ctx["unbalanced"]:
        parts.append("Unbalanced cells: " + latex_escape("; ".join(ctx["unbalanced"])) + ".")
    parts.append("Best mean per row in bold.")
    return " ".join(parts)


def mixed_code_versions(df: pd.DataFrame) -> str:
    """"" when every run of the table ran the same code, else what differs: an algorithm whose
    runs ran different versions of its sources, or runs whose shared training / simulator code
    differ (``code_version`` and ``code_shared`` columns of scores.csv, see
    ``harness/provenance.py``; runs that recorded none are not judged)."""
    if "code_version" not in df.columns:
        return ""
    notes = []
    per_algo = df.dropna(subset=["code_version"]).groupby("algorithm")["code_version"].nunique()
    notes += [f"{algo} runs from {n} versions of its code" for algo, n in per_algo.items() if n > 1]
    if "code_shared" in df.columns:
        shared = df["code_shared"].dropna().unique()
        if len(shared) > 1:
            notes.append(f"the shared training and simulator code in {len(shared)} versions "
                         f"({', '.join(sorted(str(v)[:8] for v in shared))})")
    if notes:
        return "; ".join(notes) + " (rerun the older runs to compare like with like)"
    return ""


def render(scores: pd.DataFrame, suites, columns, out_tex, out_csv=None, title: str = None, label: str = None,
           metric: str = None, decimals: int = 1) -> str:
    suites = list(suites)
    frame, ctx = build_table(scores, suites, columns, metric, decimals)
    title = title or " + ".join(SUITE_TITLES[s] for s in suites)
    tex = _env().get_template("table.tex.j2").render(
        header=ctx["header"], groups=ctx["groups"], caption=caption(scores, suites, ctx, title, metric),
        label=label or f"tab:{'-'.join(suites)}")
    atomic_write_text(out_tex, tex)
    if out_csv:
        with atomic_path(out_csv) as tmp:
            frame.to_csv(tmp, index=False)
    return tex


def algorithm_columns(algorithms) -> list:
    return [Column(a, a) for a in algorithms]


# -- the paper side by side ------------------------------------------------------------------

def paper_reference() -> pd.DataFrame:
    """The paper's Tables 1 and 2 (Table 3 is not in our copy of the paper: no rows)."""
    return pd.concat([pd.read_csv(p) for p in sorted(PAPER_DATA.glob("paper_table*.csv"))], ignore_index=True)


def _rank(means: dict, algo: str):
    """1-based rank of ``algo`` among the algorithms with a mean (ties share the best rank)."""
    if algo not in means or any(v is None or math.isnan(v) for v in [means[algo]]):
        return None
    return 1 + sum(v > means[algo] for v in means.values() if v is not None and not math.isnan(v))


def paper_comparison(scores: pd.DataFrame, suites, algorithms, reference: pd.DataFrame = None,
                     focus: str = "ComaDICE") -> pd.DataFrame:
    """Per (suite, task, quality): ours and the paper's ComaDICE, the best other algorithm of
    each, and ComaDICE's rank among the algorithms in each."""
    ref = paper_reference() if reference is None else reference
    ours, _ = build_table(scores, suites, algorithm_columns(algorithms))
    rows = []
    # the cells of our grid (the paper's other cells are not ours to compare)
    cells = {(s, t, q) for s, t, q in zip(ours["suite"], ours["task"], ours["quality"])}
    for suite, task, quality in _row_keys(pd.DataFrame(list(cells), columns=["suite", "task", "quality"])):
        o = ours[(ours["suite"] == suite) & (ours["task"] == task) & (ours["quality"] == quality)]
        p = ref[(ref["suite"] == suite) & (ref["task"] == task) & (ref["quality"] == quality)]
        o_means = {a: m for a, m in zip(o["algorithm"], o["mean"]) if not math.isnan(m)}
        p_means = {a: m for a, m in zip(p["algorithm"], p["mean"]) if a in algorithms}
        row = {"suite": suite, "task": task, "quality": quality,
               "paper_comadice": p_means.get(focus, np.nan), "ours_comadice": o_means.get(focus, np.nan),
               "paper_rank": _rank(p_means, focus), "ours_rank": _rank(o_means, focus),
               "paper_n_algorithms": len(p_means), "ours_n_algorithms": len(o_means)}
        for side, means in (("paper", p_means), ("ours", o_means)):
            others = {a: v for a, v in means.items() if a != focus}
            best = max(others, key=others.get) if others else None
            row[f"{side}_best_baseline"] = best
            row[f"{side}_best_baseline_mean"] = others.get(best, np.nan) if best else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def render_comparison(scores: pd.DataFrame, suites, algorithms, out_tex, out_csv) -> str:
    comp = paper_comparison(scores, suites, algorithms)
    with atomic_path(out_csv) as tmp:
        comp.to_csv(tmp, index=False)

    def num(v, d=1):
        return "--" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{d}f}"

    def best(name, value):
        return f"{latex_escape(name)} {num(value)}" if isinstance(name, str) else "--"

    def rank(r, n):
        return "--" if r is None or (isinstance(r, float) and math.isnan(r)) else f"{int(r)}/{int(n)}"

    groups = []
    for (suite, task), g in comp.groupby(["suite", "task"], sort=False):
        rows = []
        for _, r in g.iterrows():
            rows.append({"quality": latex_escape(r["quality"]), "cells": [
                num(r["paper_comadice"]), num(r["ours_comadice"]),
                best(r["paper_best_baseline"], r["paper_best_baseline_mean"]),
                best(r["ours_best_baseline"], r["ours_best_baseline_mean"]),
                rank(r["paper_rank"], r["paper_n_algorithms"]), rank(r["ours_rank"], r["ours_n_algorithms"])]})
        groups.append({"task": latex_escape(get_task(task, suite).display), "rows": rows})
    missing_paper = int(comp["paper_comadice"].isna().sum())
    cap = ("The paper's numbers (Tables 1-2) beside ours for the same cells: ComaDICE, the best other "
           "algorithm, and ComaDICE's rank among the algorithms of the row (paper / ours). Win rate (\\%) "
           "for SMAC, return for MaMuJoCo. Our numbers come from this harness's backends and datasets "
           "(see the main tables' captions), so they compare in kind, not to the decimal.")
    if missing_paper:
        cap += (f" {missing_paper} row(s) have no paper number (--): Table 3 (MaMuJoCo) is not in our "
                "copy of the paper, and we leave those cells empty rather than guess.")
    tex = _env().get_template("table.tex.j2").render(
        header=["ComaDICE (paper)", "ComaDICE (ours)", "best other (paper)", "best other (ours)",
                "rank (paper)", "rank (ours)"],
        groups=groups, caption=cap, label="tab:paper-vs-ours")
    atomic_write_text(out_tex, tex)
    return tex

"""The paper's numbers beside ours: the project's copy of the paper's tables (``analysis/data/``),
one comparison frame with a row per (suite, task, quality) -- ComaDICE's mean and rank here and
in the paper, the best algorithm of each side, Kendall's tau-b between the two orders -- and the
LaTeX table of it (``paper_vs_ours``).  RESULTS.md's rank table (``analysis/reference_results.py``)
reads the same frame."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from analysis.latex import latex_escape, render_template, tex_number
from analysis.score_tables import build_table
from envs.files import atomic_path
from envs.registry import get_task
from envs.suites import SUITES, get_metric, get_suite
from pipeline.report_plan import algorithm_columns

#: the paper's numbers and the published datasets the project keeps (README there)
PAPER_DATA = Path(__file__).resolve().parent / "data"
FOCUS = "ComaDICE"
#: suites whose paper numbers are the authors' analysis notebook's: their table is missing from
#: the project's copy of the paper (``analysis/data/README.md``)
NOTEBOOK_SUITES = ("mamujoco",)
#: paper_vs_ours.csv: the columns the LaTeX table shows
TABLE_COLUMNS = ["suite", "task", "quality", "paper_comadice", "ours_comadice", "paper_rank", "ours_rank",
                 "paper_n_algorithms", "ours_n_algorithms", "paper_best_baseline", "paper_best_baseline_mean",
                 "ours_best_baseline", "ours_best_baseline_mean"]
#: the frame's further columns, for RESULTS.md: ranks on the final evaluation and among the paper's
#: row's methods, the best algorithm of each side, Kendall's tau-b
RANK_COLUMNS = ["ours_final_rank", "ours_common_rank", "n_common", "ours_best", "paper_best", "kendall_tau"]


def paper_reference() -> pd.DataFrame:
    """The paper's Tables 1 and 2, and the numbers behind Table 3 (the authors' notebook; no
    OptDICE or AlberDICE rows): ``analysis/data/paper_table*.csv``."""
    return pd.concat([pd.read_csv(p) for p in sorted(PAPER_DATA.glob("paper_table*.csv"))], ignore_index=True)


def cell_means(table: pd.DataFrame, suite, task, quality) -> dict:
    """``{algorithm: mean}`` of one row of a table frame (``build_table``'s or the paper's), the
    algorithms without a mean left out."""
    g = table[(table["suite"] == suite) & (table["task"] == task) & (table["quality"] == quality)]
    return {a: m for a, m in zip(g["algorithm"], g["mean"], strict=False) if not (m is None or math.isnan(m))}


def rank_of(means: dict, algo: str):
    """1-based rank of ``algo`` among the algorithms with a finite mean (ties share the best rank),
    None without a mean."""
    if algo not in means or means[algo] is None or not math.isfinite(means[algo]):
        return None
    return 1 + sum(v > means[algo] for v in means.values() if v is not None and math.isfinite(v))


def best_of(means: dict):
    """The row's best algorithm, ``"tie of k"`` when k share the best mean, None without means."""
    if not means:
        return None
    top = [a for a, v in means.items() if v == max(means.values())]
    return top[0] if len(top) == 1 else f"tie of {len(top)}"


def kendall_tau(ours: dict, paper: dict) -> float:
    """Kendall's tau-b between our and the paper's means over the algorithms both have (NaN when
    fewer than 3, or when either side is constant, e.g. all 0.0 win rates)."""
    common = [a for a in ours if a in paper]
    if len(common) < 3:
        return math.nan
    x, y = [ours[a] for a in common], [paper[a] for a in common]
    if len(set(x)) < 2 or len(set(y)) < 2:
        return math.nan
    return float(sps.kendalltau(x, y).statistic)


def _best_other(means: dict, focus: str) -> tuple:
    """The best algorithm but ``focus`` and its mean: (None, NaN) without one."""
    others = {a: v for a, v in means.items() if a != focus}
    best = max(others, key=others.get) if others else None
    return best, others.get(best, np.nan) if best else np.nan


def _comparison_row(scores, columns, cell: tuple, ours: dict, paper: dict, focus: str) -> dict:
    suite, task, quality = cell
    final, _ = build_table(scores, [suite], columns, metric="final_" + get_suite(suite).metric, rows=[cell])
    # the paper's row may lack methods (Table 3: no OptDICE, AlberDICE): rank among those it has too
    common = {a: v for a, v in ours.items() if a in paper}
    paper_best, ours_best = _best_other(paper, focus), _best_other(ours, focus)
    return {"suite": suite, "task": task, "quality": quality,
            "paper_comadice": paper.get(focus, np.nan), "ours_comadice": ours.get(focus, np.nan),
            "paper_rank": rank_of(paper, focus), "ours_rank": rank_of(ours, focus),
            "paper_n_algorithms": len(paper), "ours_n_algorithms": len(ours),
            "paper_best_baseline": paper_best[0], "paper_best_baseline_mean": paper_best[1],
            "ours_best_baseline": ours_best[0], "ours_best_baseline_mean": ours_best[1],
            "ours_final_rank": rank_of(cell_means(final, *cell), focus),
            "ours_common_rank": rank_of(common, focus) if paper else None, "n_common": len(common) or None,
            "ours_best": best_of(ours), "paper_best": best_of(paper),
            "kendall_tau": kendall_tau(ours, paper) if paper else math.nan}


def paper_comparison(scores: pd.DataFrame, suites, algorithms, reference: pd.DataFrame = None, rows: list = None,
                     seeds: list = None, focus: str = FOCUS) -> pd.DataFrame:
    """Per (suite, task, quality) row of the main tables (``rows``: the grid's cells, a cell
    without runs included; default: the cells the scores hold), ours (the last evaluation, the
    paper's statistic) beside the paper's: ``focus``'s mean and its rank among the algorithms of
    each side, the best other algorithm of each (``TABLE_COLUMNS``); and ``RANK_COLUMNS``."""
    ref = paper_reference() if reference is None else reference
    columns = algorithm_columns(algorithms)
    ours, _ = build_table(scores, list(suites), columns, rows=rows, seeds=seeds)
    records = []
    for cell in dict.fromkeys(zip(ours["suite"], ours["task"], ours["quality"], strict=False)):
        paper = {a: m for a, m in cell_means(ref, *cell).items() if a in algorithms}
        records.append(_comparison_row(scores, columns, cell, cell_means(ours, *cell), paper, focus))
    return pd.DataFrame(records, columns=TABLE_COLUMNS + RANK_COLUMNS)


def _table_numbers(suites) -> str:
    """The paper's tables of ``suites`` as a caption names them: "Table 1", "Tables 1-2"."""
    numbers = sorted(int(m.group(1)) for s in suites if (m := re.match(r"table(\d+)", get_suite(s).table)))
    if len(numbers) == 1:
        return f"Table {numbers[0]}"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"Tables {numbers[0]}-{numbers[-1]}"
    return "Tables " + ", ".join(map(str, numbers))


def _metric_sentence(suites) -> str:
    """What the rows report, by metric: "Win rate (\\%) for SMAC, return for MaMuJoCo"."""
    families = {}  # metric -> the families of its suites, in the paper's order
    for s in sorted(suites, key=list(SUITES).index):
        families.setdefault(SUITES[s].metric, {})[SUITES[s].family_title] = None
    text = ", ".join(f"{latex_escape(get_metric(m).axis)} for {' and '.join(f)}" for m, f in families.items())
    return text[:1].upper() + text[1:]


def comparison_caption(suites, missing_paper: int) -> str:
    """The caption of the paper side by side, from the suite table (``envs/suites.py``): which of
    the paper's tables the numbers come from, what each suite reports, why a row has no paper number."""
    printed = [s for s in SUITES if s not in NOTEBOOK_SUITES]
    cap = (f"The paper's numbers ({_table_numbers(printed)}) beside ours for the same cells: ComaDICE, the best "
           "other algorithm, and ComaDICE's rank among the algorithms of the row (paper / ours). "
           f"{_metric_sentence(suites)}. Our numbers come from this harness's backends and datasets "
           "(see the main tables' captions), so they compare in kind, not to the decimal.")
    if missing_paper:
        absent = " and ".join(f"{_table_numbers([s])} ({get_suite(s).title})" for s in NOTEBOOK_SUITES)
        cap += (f" {missing_paper} row(s) have no paper number (--): {absent} is not in our "
                "copy of the paper, and we leave those cells empty rather than guess.")
    return cap


def _best_text(name, value) -> str:
    return f"{latex_escape(name)} {tex_number(value)}" if isinstance(name, str) else "--"


def _rank_text(r, n) -> str:
    return "--" if r is None or (isinstance(r, float) and math.isnan(r)) else f"{int(r)}/{int(n)}"


def render_comparison(scores: pd.DataFrame, suites, algorithms, out_tex, out_csv) -> str:
    """The paper side by side as LaTeX (reports/templates/table.tex.j2) and CSV (``TABLE_COLUMNS``)."""
    comp = paper_comparison(scores, suites, algorithms)
    with atomic_path(out_csv) as tmp:
        comp[TABLE_COLUMNS].to_csv(tmp, index=False)
    groups = []
    for (suite, task), g in comp.groupby(["suite", "task"], sort=False):
        rows = []
        for _, r in g.iterrows():
            rows.append({"quality": latex_escape(r["quality"]), "cells": [
                tex_number(r["paper_comadice"]), tex_number(r["ours_comadice"]),
                _best_text(r["paper_best_baseline"], r["paper_best_baseline_mean"]),
                _best_text(r["ours_best_baseline"], r["ours_best_baseline_mean"]),
                _rank_text(r["paper_rank"], r["paper_n_algorithms"]),
                _rank_text(r["ours_rank"], r["ours_n_algorithms"])]})
        groups.append({"task": latex_escape(get_task(task, suite).display), "rows": rows})
    cap = comparison_caption(list(suites), int(comp["paper_comadice"].isna().sum()))
    return render_template("table.tex.j2", out_tex, groups=groups, caption=cap, label="tab:paper-vs-ours",
                           header=["ComaDICE (paper)", "ComaDICE (ours)", "best other (paper)",
                                   "best other (ours)", "rank (paper)", "rank (ours)"])

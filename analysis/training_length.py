"""Whether the ranking moves with training length: a run at the authors' length set beside a
shorter run of the same cells (RESULTS.md of ``reference_epochs`` beside ``reference``'s 1,000
updates), and ComaDICE's rank at every evaluation of one run.

Both read the committed ``scores.csv`` files alone: per (suite, task, quality) row, ComaDICE's
rank among the row's algorithms at each length beside the paper's, the best algorithm of each,
Kendall's tau-b against the paper's order (``analysis/paper_comparison.py``), and whether the two
runs trained on the same dataset (its SHA-256, recorded by every run)."""
from __future__ import annotations

import math

import pandas as pd

from analysis import markdown as md
from analysis.paper_comparison import FOCUS, best_of, kendall_tau, paper_comparison, rank_of
from envs.registry import get_task
from envs.suites import get_suite

#: a run at the authors' training length (profile) -> the shorter run of the same cells it is set beside
LENGTH_COMPANIONS = {"reference_epochs": "reference"}


def _cell(scores: pd.DataFrame, suite, task, quality) -> pd.DataFrame:
    return scores[(scores["suite"] == suite) & (scores["task"] == task) & (scores["quality"] == quality)]


def _updates(scores: pd.DataFrame, cell: tuple) -> int | None:
    """The updates of a cell's runs (their last evaluation's ``n_updates``); None without runs."""
    final = _cell(scores, *cell)
    final = final[final["is_final"].astype(bool) & (final["variant"] == "default")]["n_updates"].dropna()
    return int(final.max()) if len(final) else None


def _datasets(scores: pd.DataFrame, cell: tuple) -> set:
    return set(_cell(scores, *cell)["dataset_sha256"].dropna())


def length_comparison(short: pd.DataFrame, long: pd.DataFrame, suites, algorithms, reference: pd.DataFrame,
                      rows: list, seeds: list) -> pd.DataFrame:
    """One row per cell of ``rows``: ComaDICE's rank, the best algorithm and Kendall's tau at each
    length (the paper's statistic, the last evaluation, mean over ``seeds``) and at the long run's
    evaluation nearest the short run's length (the same data as the long run: whether the order
    moves with training length alone), the paper's rank, and whether both runs read the same dataset."""
    comp = {name: paper_comparison(s, suites, algorithms, reference, rows=rows, seeds=seeds).set_index(
        ["suite", "task", "quality"]) for name, s in (("short", short), ("long", long))}
    evals = _finished_runs(long)
    out = []
    for cell in rows:
        s, lo = comp["short"].loc[cell], comp["long"].loc[cell]
        d_short, d_long = _datasets(short, cell), _datasets(long, cell)
        short_updates = _updates(short, cell)
        near = {"step": None, "rank": None, "n": None, "best": None, "tau": math.nan}
        means = _step_means(evals, cell, algorithms)
        if short_updates and not means.empty:
            step = min(means.index, key=lambda k: (abs(k - short_updates), k))
            near = {"step": int(step), **_order(means.loc[step], _paper_means(reference, cell, algorithms))}
        out.append({"suite": cell[0], "task": cell[1], "quality": cell[2],
                    "short_updates": short_updates, "long_updates": _updates(long, cell),
                    "same_data": bool(d_short) and d_short == d_long,
                    "short_rank": s.ours_rank, "long_rank": lo.ours_rank, "n_algorithms": lo.ours_n_algorithms,
                    "short_n": s.ours_n_algorithms,
                    "paper_rank": lo.paper_rank, "n_common": lo.n_common,
                    "short_best": s.ours_best, "long_best": lo.ours_best, "paper_best": lo.paper_best,
                    "short_tau": s.kendall_tau, "long_tau": lo.kendall_tau,
                    "near_updates": near["step"], "near_rank": near["rank"], "near_n": near["n"],
                    "near_best": near["best"], "near_tau": near["tau"]})
    return pd.DataFrame(out)


def _name(r) -> list:
    return [get_task(r.task, r.suite).display, r.quality]


def _point(rank, n, best, tau, updates) -> str:
    """One length's order in a cell: ComaDICE's rank, the best method, Kendall's tau, the updates."""
    if rank is None or rank != rank:
        return "–"
    return (f"{md.rank(rank, n)}, best {best if isinstance(best, str) else '–'}, tau {md.num(tau, 2)}"
            + (f" ({int(updates):,} updates)" if updates else ""))


def length_tables(comp: pd.DataFrame) -> dict:
    """RESULTS.md's table of the lengths and its summary sentence's numbers."""
    rows = [[*_name(r), "yes" if r.same_data else "**no**",
             _point(r.short_rank, r.short_n, r.short_best, r.short_tau, r.short_updates),
             _point(r.near_rank, r.near_n, r.near_best, r.near_tau, r.near_updates),
             _point(r.long_rank, r.n_algorithms, r.long_best, r.long_tau, r.long_updates),
             f"{md.rank(r.paper_rank, r.n_common)}, best {r.paper_best if isinstance(r.paper_best, str) else '–'}"]
            for r in comp.itertuples()]
    table = md.table(["task", "quality", "same dataset", "ComaDICE in the short run", "this run, nearest evaluation",
                      "this run, authors' length", "paper"], rows)
    out = {"table": table, "rows": len(comp), "best_paper": int((comp["paper_best"] == FOCUS).sum()),
           "other_data": ", ".join(" ".join(_name(r)) for r in comp.itertuples() if not r.same_data)}
    for point in ("short", "near", "long"):
        taus = comp[f"{point}_tau"].dropna()
        out[f"tau_{point}"] = md.num(taus.mean(), 2)
        out[f"n_tau_{point}"] = len(taus)
        out[f"best_{point}"] = int((comp[f"{point}_best"] == FOCUS).sum())
    return out


def _finished_runs(scores: pd.DataFrame) -> pd.DataFrame:
    """The evaluations of the default variant's runs that finished (a diverged run's early
    evaluations would weigh a cell toward the seeds that survived)."""
    final = scores[scores["is_final"].astype(bool) & (scores["variant"] == "default") & (scores["status"] == "ok")]
    keys = ["suite", "task", "quality", "algorithm", "variant", "seed"]
    ok = final[keys].drop_duplicates()
    return scores.merge(ok, on=keys)


def _step_means(evals: pd.DataFrame, cell: tuple, algorithms) -> pd.DataFrame:
    """A cell's mean over seeds at each evaluation step, one column per algorithm."""
    g = _cell(evals, *cell)
    g = g[g["algorithm"].isin(algorithms)]
    if g.empty:
        return pd.DataFrame()
    return g.groupby(["step", "algorithm"])[get_suite(cell[0]).metric].mean().unstack("algorithm")


def _paper_means(reference: pd.DataFrame, cell: tuple, algorithms) -> dict:
    g = _cell(reference, *cell)
    return {a: m for a, m in zip(g["algorithm"], g["mean"], strict=False) if a in algorithms}


def _order(row: pd.Series, paper: dict) -> dict:
    """ComaDICE's rank among one evaluation's means, their count, the best, Kendall's tau."""
    m = {a: float(v) for a, v in row.items() if isinstance(v, float) and math.isfinite(v)}
    return {"rank": rank_of(m, FOCUS), "n": len(m), "best": best_of(m),
            "tau": kendall_tau(m, paper) if paper else math.nan}


def rank_over_training(scores: pd.DataFrame, rows: list, algorithms, reference: pd.DataFrame) -> dict:
    """Per cell, ComaDICE's rank among the algorithms (means over the finished seeds) at each
    evaluation, and Kendall's tau against the paper's order there: does the order settle?"""
    evals = _finished_runs(scores)
    out, n_cols = [], 0
    for cell in rows:
        means = _step_means(evals, cell, algorithms)
        if means.empty:
            continue
        paper = _paper_means(reference, cell, algorithms)
        points = []
        for _, row in means.iterrows():
            o = _order(row, paper)
            points.append(f"{md.rank(o['rank'], o['n'])} ({md.num(o['tau'], 2)})" if paper
                          else md.rank(o["rank"], o["n"]))
        n_cols = max(n_cols, len(points))
        out.append([get_task(cell[1], cell[0]).display, cell[2], f"{int(max(means.index)):,}", *points])
    header = ["task", "quality", "updates", *[f"eval {i + 1}" for i in range(n_cols)]]
    return md.table(header, [r + ["–"] * (len(header) - len(r)) for r in out])

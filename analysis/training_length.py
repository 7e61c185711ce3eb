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
from analysis.paper_comparison import FOCUS, kendall_tau, paper_comparison, rank_of
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
    length (the paper's statistic, the last evaluation, mean over ``seeds``), the paper's rank, and
    whether both runs read the same dataset."""
    comp = {name: paper_comparison(s, suites, algorithms, reference, rows=rows, seeds=seeds).set_index(
        ["suite", "task", "quality"]) for name, s in (("short", short), ("long", long))}
    out = []
    for cell in rows:
        s, lo = comp["short"].loc[cell], comp["long"].loc[cell]
        d_short, d_long = _datasets(short, cell), _datasets(long, cell)
        out.append({"suite": cell[0], "task": cell[1], "quality": cell[2],
                    "short_updates": _updates(short, cell), "long_updates": _updates(long, cell),
                    "same_data": bool(d_short) and d_short == d_long,
                    "short_rank": s.ours_rank, "long_rank": lo.ours_rank, "n_algorithms": lo.ours_n_algorithms,
                    "paper_rank": lo.paper_rank, "n_common": lo.n_common,
                    "short_best": s.ours_best, "long_best": lo.ours_best, "paper_best": lo.paper_best,
                    "short_tau": s.kendall_tau, "long_tau": lo.kendall_tau})
    return pd.DataFrame(out)


def _name(r) -> list:
    return [get_task(r.task, r.suite).display, r.quality]


def length_tables(comp: pd.DataFrame) -> dict:
    """RESULTS.md's table of the two lengths and its summary sentence's numbers."""
    rows = [[*_name(r), f"{r.short_updates:,}" if r.short_updates else "–",
             f"{r.long_updates:,}" if r.long_updates else "–", "yes" if r.same_data else "**no**",
             md.rank(r.short_rank, r.n_algorithms), md.rank(r.long_rank, r.n_algorithms),
             md.rank(r.paper_rank, r.n_common), r.short_best if isinstance(r.short_best, str) else "–",
             r.long_best if isinstance(r.long_best, str) else "–", r.paper_best if isinstance(r.paper_best, str)
             else "–", md.num(r.short_tau, 2), md.num(r.long_tau, 2)] for r in comp.itertuples()]
    table = md.table(["task", "quality", "updates (short run)", "updates (authors' length)", "same dataset",
                      "ComaDICE rank (short)", "(authors' length)", "(paper)", "best (short)",
                      "best (authors' length)", "best (paper)", "Kendall tau (short)", "(authors' length)"], rows)
    both = comp.dropna(subset=["short_tau", "long_tau"])
    same = both[both["same_data"]]
    return {"table": table, "rows": len(comp), "n_taus": len(both),
            "tau_short": md.num(both["short_tau"].mean(), 2), "tau_long": md.num(both["long_tau"].mean(), 2),
            "n_same": len(same), "tau_short_same": md.num(same["short_tau"].mean(), 2),
            "tau_long_same": md.num(same["long_tau"].mean(), 2),
            "best_short": int((comp["short_best"] == FOCUS).sum()),
            "best_long": int((comp["long_best"] == FOCUS).sum()),
            "best_paper": int((comp["paper_best"] == FOCUS).sum()),
            "other_data": ", ".join(" ".join(_name(r)) for r in comp.itertuples() if not r.same_data)}


def _finished_runs(scores: pd.DataFrame) -> pd.DataFrame:
    """The evaluations of the default variant's runs that finished (a diverged run's early
    evaluations would weigh a cell toward the seeds that survived)."""
    final = scores[scores["is_final"].astype(bool) & (scores["variant"] == "default") & (scores["status"] == "ok")]
    keys = ["suite", "task", "quality", "algorithm", "variant", "seed"]
    ok = final[keys].drop_duplicates()
    return scores.merge(ok, on=keys)


def rank_over_training(scores: pd.DataFrame, rows: list, algorithms, reference: pd.DataFrame) -> dict:
    """Per cell, ComaDICE's rank among the algorithms (means over the finished seeds) at each
    evaluation, and Kendall's tau against the paper's order there: does the order settle?"""
    evals = _finished_runs(scores)
    out, n_cols = [], 0
    for cell in rows:
        g = _cell(evals, *cell)
        g = g[g["algorithm"].isin(algorithms)]
        if g.empty:
            continue
        metric = get_suite(cell[0]).metric
        means = g.groupby(["step", "algorithm"])[metric].mean().unstack("algorithm")
        last = max(means.index)
        paper = {a: m for a, m in zip(*_paper_row(reference, cell), strict=False) if a in algorithms}
        points = []
        for _, row in means.iterrows():
            m = {a: float(v) for a, v in row.items() if isinstance(v, float) and math.isfinite(v)}
            points.append(f"{md.rank(rank_of(m, FOCUS), len(m))} ({md.num(kendall_tau(m, paper), 2)})"
                          if paper else md.rank(rank_of(m, FOCUS), len(m)))
        n_cols = max(n_cols, len(points))
        out.append([get_task(cell[1], cell[0]).display, cell[2], f"{int(last):,}", *points])
    header = ["task", "quality", "updates", *[f"eval {i + 1}" for i in range(n_cols)]]
    return md.table(header, [r + ["–"] * (len(header) - len(r)) for r in out])


def _paper_row(reference: pd.DataFrame, cell: tuple) -> tuple:
    g = _cell(reference, *cell)
    return list(g["algorithm"]), list(g["mean"])

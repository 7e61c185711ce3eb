"""What a report may be rendered from: a ``scores.csv`` checked before any table, statistic, figure or
RESULTS.md is made of it.

Refused, naming the run (or the file): a scores table without runs or without the run key's columns
(a header only), a run counted twice (a duplicated last evaluation), and a non-finite number (+-inf)
in a run that finished ``ok`` -- a mean, a rank or a bold of such a number would be silently wrong.
What is marked instead of refused (``analysis/score_tables.py``, ``analysis/reference_results.py``,
``analysis/figures.py``): a cell with fewer seeds than the grid (a seed missing, or an ``ok`` run
without a value), a diverged run, a cell missing from the scores.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from envs.suites import METRICS

KEY = ["suite", "task", "quality", "algorithm", "variant", "seed"]


class ScoresError(ValueError):
    """A scores table that no report can be rendered from honestly; the message names the run."""


def run_name(row) -> str:
    return f"{row['suite']}/{row['task']}/{row['quality']}/{row['algorithm']}/{row['variant']}/seed{row['seed']}"


def metric_columns(scores: pd.DataFrame) -> list:
    """The score columns a report reads: each metric and its final-evaluation companion."""
    names = list(METRICS) + [f"final_{m}" for m in METRICS]
    return [c for c in names if c in scores.columns]


def check_scores(scores: pd.DataFrame, where: str = "scores.csv") -> pd.DataFrame:
    """``scores`` unchanged when a report may be made of it; else :class:`ScoresError` naming the
    problem and the runs."""
    missing = [c for c in KEY + ["is_final"] if c not in scores.columns]
    if missing:
        raise ScoresError(f"{where}: no column(s) {', '.join(missing)}"
                          + (" (a header without runs?)" if scores.empty else "")
                          + "; a scores table of analysis/aggregate.py has them all")
    final = scores[scores["is_final"].astype(bool)]
    if final.empty:
        raise ScoresError(f"{where}: holds no runs (no last evaluation); nothing to report")
    dup = final[final.duplicated(KEY, keep=False)]
    if len(dup):
        names = sorted({run_name(r) for _, r in dup.iterrows()})
        raise ScoresError(f"{where}: {len(names)} run(s) appear more than once, each would be counted twice: "
                          + ", ".join(names[:10]) + (" ..." if len(names) > 10 else ""))
    ok = scores[scores["status"] == "ok"] if "status" in scores.columns else scores
    for col in metric_columns(scores):
        values = pd.to_numeric(ok[col], errors="coerce").to_numpy(dtype=float)
        bad = ok[np.isinf(values)]
        if len(bad):
            names = sorted({run_name(r) for _, r in bad.iterrows()})
            raise ScoresError(f"{where}: {col} is not a finite number in {len(names)} run(s) that finished ok: "
                              + ", ".join(names[:10]) + "; no mean, rank or bold can be made of it")
    return scores

"""The dataset-statistics table (as the paper's appendix): one row per (suite, task, quality),
rendered from reports/templates/dataset_statistics.tex.j2."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.latex import render_template
from analysis.tables import row_key
from tasks.dataset import load_dataset
from tasks.registry import get_task


def dataset_row(path) -> dict:
    ds = load_dataset(path)
    task = get_task(ds.meta["task"], ds.meta["suite"])
    returns = ds.episode_returns()
    prov = ds.meta.get("provenance") or {}
    return {
        "suite": task.suite, "task": task.name, "quality": ds.meta["quality"],
        "trajectories": ds.n_episodes, "samples": ds.n_transitions, "agents": ds.n_agents,
        "state_dim": ds.state.shape[1], "obs_dim": ds.obs.shape[2],
        "action_dim": ds.avail.shape[2] if ds.discrete else ds.actions.shape[2],
        "return_mean": float(returns.mean()), "return_std": float(returns.std()),
        "win_rate_pct": 100.0 * prov["win_rate"] if "win_rate" in prov else np.nan,
        "backend": ds.meta.get("backend"), "approximation": bool(ds.meta.get("approximation", False)),
        "grade": ds.meta.get("grade"), "behaviour": prov.get("behaviour", ""),
    }


def dataset_table(paths) -> pd.DataFrame:
    """One row per dataset, in the tables' row order."""
    rows = sorted((dataset_row(p) for p in paths), key=lambda r: row_key(r["suite"], r["task"], r["quality"]))
    return pd.DataFrame(rows)


def render_dataset_table(df: pd.DataFrame, out_tex) -> str:
    """The table of ``dataset_table``'s rows, a group of rows per suite."""
    groups = []
    for _, r in df.iterrows():
        row = {**r.to_dict(), "task": get_task(r["task"], r["suite"]).display}
        if groups and groups[-1][-1]["suite"] == r["suite"]:
            groups[-1].append(row)
        else:
            groups.append([row])
    return render_template("dataset_statistics.tex.j2", out_tex, groups=groups,
                           grades=sorted(df["grade"].dropna().unique()))

"""Behaviour learning curves: how the run that made a task's datasets learnt, beside the level of
the published datasets (reports/<profile>/behaviour/{suite}/{task}.png).

A behaviour run's curve is a CSV, one row per evaluation of its policy: ``env_steps`` (the
environment steps of training so far) and ``return_mean``, and for the SMAC suites
``win_rate`` (a fraction).  The SMAX MAPPO runs write it themselves (``mappo_curve.csv``,
behaviour/mappo.py); the MaMuJoCo runs' (``curve.csv``) is ``run_curve`` of the run (``run.pt``, behaviour/runs.py)
(MAPPO: its own curve; ARS: its checkpoints' returns against the steps of the rollouts before
each).

The figure plots, against environment steps, SMAC: the win rate (%) and the return as a
fraction of the return scale's maximum (SMAX's 2.0, SMAC's 20: analysis/dataset_stats.py),
the published datasets' returns per quality as horizontal lines on the same fraction (they
publish no win rate); MaMuJoCo: the return, the published returns per quality as lines
(MuJoCo v5 here, v2 there: comparable in kind).  A task without a learning run (the smoke
generator's SMAX data: a fixed heuristic and random actions) gets a figure that says so.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.dataset_stats import max_return, published_max_return
from envs.suites import get_suite

#: what a figure says where a task's data come from no learning run (datasets.generator smoke)
NO_RUN = {"smac": "no behaviour learning run: the smoke generator's SMAX data come from a fixed\n"
                  "heuristic policy and random actions (datasets.generator: paper trains MAPPO)"}


def run_curve(run: dict) -> pd.DataFrame:
    """The learning curve of a MaMuJoCo behaviour run (train_behaviour.py's ``run.pt``): MAPPO's
    ``curve`` as it is; ARS's checkpoints (one per iteration, evaluated before that iteration's
    update) with the environment steps of the training rollouts before each."""
    if run.get("curve"):
        return pd.DataFrame(run["curve"])
    ckpts, rollouts = run["checkpoints"], run.get("rollouts", [])
    steps = np.concatenate([[0], np.cumsum([sum(len(t["actions"]) for t in batch) for batch in rollouts])])
    rows = [{"iteration": c["iteration"], "env_steps": int(steps[min(k, len(steps) - 1)]),
             "return_mean": float(c["return"])} for k, c in enumerate(ckpts)]
    return pd.DataFrame(rows, columns=["iteration", "env_steps", "return_mean"])


def published_levels(published: pd.DataFrame, suite: str, task: str) -> pd.DataFrame:
    """The published datasets of a task: quality, return_mean and ``level`` (the return as a
    fraction of SMAC's maximum for the SMAC suites, the return itself otherwise)."""
    rows = published[(published["suite"] == suite) & (published["task"] == task)].copy()
    scale = published_max_return(suite)
    rows["level"] = rows["return_mean"] / scale if scale == scale else rows["return_mean"]
    return rows[["quality", "return_mean", "level"]].reset_index(drop=True)


def _levels(ax, levels: pd.DataFrame, suite: str) -> None:
    order = get_suite(suite).qualities
    scale = published_max_return(suite)
    levels = levels.assign(_o=[order.index(q) if q in order else 99 for q in levels["quality"]]).sort_values("_o")
    for i, r in enumerate(levels.itertuples()):
        of = f" / {scale:g}" if scale == scale else ""
        ax.axhline(r.level, color=f"C{i + 1}", ls="--", lw=1.0, label=f"published {r.quality} ({r.return_mean:g}{of})")


def plot_behaviour_curve(curve, suite: str, task: str, published: pd.DataFrame, out_png, backend: str = None,
                         title: str = "") -> None:
    """The behaviour learning-curve figure of one task (see the module's docstring); ``curve``
    None: the figure of a task without a learning run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.figures import _save

    smac = get_suite(suite).dataset_kind == "smac"
    levels = published_levels(published, suite, task)
    title = title or f"{get_suite(suite).title} {task}: behaviour learning run"
    if curve is None or len(curve) == 0:
        fig, ax = plt.subplots(figsize=(5.0, 2.0))
        ax.axis("off")
        ax.text(0.5, 0.5, NO_RUN.get(get_suite(suite).dataset_kind, "no behaviour learning run"),
                ha="center", va="center", fontsize=8, wrap=True)
        ax.set_title(title, fontsize=9)
        _save(fig, out_png, dpi=150)
        plt.close(fig)
        return
    curve = pd.DataFrame(curve).sort_values("env_steps")
    x = curve["env_steps"]
    if smac:
        fig, (ax_w, ax_r) = plt.subplots(1, 2, figsize=(11.0, 3.4))
        ax_w.plot(x, 100.0 * curve["win_rate"], color="C0", marker=".", lw=1.4)
        ax_w.set_ylabel("win rate (%)")
        ax_w.set_ylim(-2, 102)
        ax_w.set_title("win rate (no published win rate)", fontsize=8)
        scale = max_return(suite, backend)
        ax_r.plot(x, curve["return_mean"] / scale, color="C0", marker=".", lw=1.4,
                  label=f"ours ({backend}: return / {scale:g})")
        _levels(ax_r, levels, suite)
        ax_r.set_ylabel("return / its scale's maximum")
        ax_r.set_ylim(0, 1.05)
        ax_r.set_title(f"return / its maximum (ours: {backend}'s {scale:g}; published: SMAC's "
                       f"{published_max_return(suite):g})", fontsize=8)
        axes = (ax_w, ax_r)
    else:
        fig, ax_r = plt.subplots(figsize=(6.8, 3.4))
        ax_r.plot(x, curve["return_mean"], color="C0", marker=".", lw=1.4, label="ours (MuJoCo v5)")
        _levels(ax_r, levels, suite)
        ax_r.set_ylabel("return (published: MuJoCo v2)")
        axes = (ax_r,)
    for ax in axes:
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
    ax_r.legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save(fig, out_png, dpi=150)
    plt.close(fig)

"""Every run into one tidy table: ``results/scores.csv``.

One row per (run, evaluation).  Columns:

    suite, task, quality, algorithm, variant, seed   the run's key
    step            gradient steps done at this evaluation
    status          ok | diverged (a diverged run's scores are NaN: counted, never a number)
    is_final        True for the run's last evaluation (the paper's statistic)
    win_rate_pct    win rate in percent (NaN for MaMuJoCo)
    return_mean     mean undiscounted episode return
                    (one column per ``tasks/suites.py`` ``METRICS`` entry, read from curve.csv)
    backend, approximation, dataset_sha256, dataset_grade, eval_episodes, n_updates,
    updates_per_s, metrics_schema
    code_version    sha256 of the sources the run executed (when metrics.json records it;
                    code_shared, code_commit, code_dirty with it; see harness/provenance.py)

Aggregation refuses a grid that mixes metric schema versions or, inside one
(suite, task, quality), runs trained on different dataset files.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from tasks.suites import METRICS

KEY = ["suite", "task", "quality", "algorithm", "variant", "seed"]


class AggregationError(ValueError):
    pass


def read_run(metrics_path) -> pd.DataFrame:
    metrics_path = Path(metrics_path)
    with open(metrics_path) as f:
        m = json.load(f)
    curve = pd.read_csv(metrics_path.parent / "curve.csv")
    df = pd.DataFrame({
        **{k: m[k] for k in KEY},
        "step": curve["step"],
        "is_final": False,
        **{name: metric.factor * curve[metric.source or name] for name, metric in METRICS.items()},
    })
    df.loc[df.index[-1], "is_final"] = True
    # a diverged run (harness/train.py) is counted, never a number: its scores are NaN
    df["status"] = m.get("status", "ok")
    if df["status"].iloc[0] == "diverged":
        for name in METRICS:
            df[name] = math.nan
        df["diverged_reason"] = m.get("diverged_reason", "")
    timing = metrics_path.parent / "timing.json"  # wall-clock figures live beside, not in, metrics.json
    if "updates_per_s" not in m and timing.exists():
        m["updates_per_s"] = json.loads(timing.read_text()).get("updates_per_s")
    for k in ("backend", "approximation", "dataset_sha256", "dataset_grade", "eval_episodes", "n_updates",
              "updates_per_s"):
        df[k] = m.get(k)
    df["metrics_schema"] = m["schema_version"]
    code = m.get("code_version")  # harness/provenance.py code_version(), recorded by the training loop
    if isinstance(code, dict):
        df["code_version"] = code.get("sources_sha256")
        df["code_shared"] = code.get("shared_sha256")
        df["code_commit"] = code.get("git_commit")
        df["code_dirty"] = code.get("git_dirty")
    elif code is not None:
        df["code_version"] = str(code)
    if "final_eval_episodes" in m:
        df["final_eval_episodes"] = m["final_eval_episodes"]
        for name, metric in METRICS.items():
            value = m[f"final_{metric.source or name}"]
            df[f"final_{name}"] = math.nan if value is None or math.isnan(value) else metric.factor * value
    return df


def aggregate(metrics_paths) -> pd.DataFrame:
    paths = list(metrics_paths)
    if not paths:
        raise AggregationError("no runs to aggregate")
    df = pd.concat([read_run(p) for p in paths], ignore_index=True)
    versions = sorted(df["metrics_schema"].unique())
    if len(versions) > 1:
        raise AggregationError(f"runs mix metrics schema versions {versions}; rerun the older runs")
    mixed = df.groupby(["suite", "task", "quality"])["dataset_sha256"].nunique()
    mixed = mixed[mixed > 1]
    if len(mixed):
        cells = ", ".join("/".join(k) for k in mixed.index)
        raise AggregationError(f"runs of {cells} were trained on different dataset files; "
                               "rerun them on the current dataset")
    return df.sort_values(KEY + ["step"]).reset_index(drop=True)

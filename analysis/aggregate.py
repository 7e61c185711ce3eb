"""Every run into one tidy table: ``results/scores.csv``.

One row per (run, evaluation).  Columns:

    suite, task, quality, algorithm, variant, seed   the run's key
    step            gradient steps done at this evaluation
    status          ok | diverged (a diverged run's scores are NaN: counted, never a number)
    is_final        True for the run's last evaluation (the paper's statistic)
    win_rate_pct    win rate in percent (NaN for MaMuJoCo)
    return_mean     mean undiscounted episode return
                    (one column per ``envs/suites.py`` ``METRICS`` entry, read from curve.csv)
    backend, approximation, dataset_sha256, dataset_grade, eval_episodes, n_updates,
    updates_per_s, metrics_schema
    code_version    sha256 of the sources the run executed (when metrics.json records it;
                    code_shared, code_commit, code_dirty with it; see harness/provenance.py)

Aggregation refuses a grid that mixes metric schema versions or, inside one
(suite, task, quality), runs trained on different dataset files; and, given each run's dataset
path, a run whose recorded ``dataset_sha256`` is not the file's there now (a stale run: named,
its metrics.json set aside so that the workflow retrains it; ``pipeline/stale_runs.py``).

Each run's files are checked against their path and their schema before anything is counted:
``metrics.json`` must be a JSON object with the run's key, ``schema_version`` and a known
``status`` (``STATUSES``), and its key must be the one its directory names
(``.../{suite}/{task}/{quality}/{algorithm}/{variant}/seed{seed}/``: a hand-edited or moved file
would otherwise add a row to another cell of a table); ``curve.csv`` must hold at least one row
with ``step`` and every metric's column.  A file that fails stops aggregation with an
:class:`AggregationError` naming the file and the problem -- as a mixed grid does -- never a bare
``JSONDecodeError`` / ``KeyError`` / ``EmptyDataError``, never a phantom row.  Delete the run
directory (or just its ``metrics.json``) and rerun: the pipeline redoes that run.
"""
from __future__ import annotations

import json
import math
import numbers
import re
from pathlib import Path

import pandas as pd

from envs.suites import METRICS

KEY = ["suite", "task", "quality", "algorithm", "variant", "seed"]

#: the values of metrics.json's ``status`` (harness/train.py); anything else is refused, not counted
STATUSES = ("ok", "diverged")


class AggregationError(ValueError):
    pass


def _fail(path, problem: str):
    raise AggregationError(f"{path}: {problem}; delete the run directory (or its metrics.json) and rerun "
                           "to redo the run")


def _path_key(metrics_path: Path) -> dict:
    """The run's key as its directory names it."""
    parts = metrics_path.parent.parts
    seed = re.fullmatch(r"seed(\d+)", parts[-1]) if parts else None
    if len(parts) < 6 or seed is None or metrics_path.name != "metrics.json":
        _fail(metrics_path, "not a run's metrics.json in a run directory "
                            "(.../{suite}/{task}/{quality}/{algorithm}/{variant}/seed{seed}/metrics.json)")
    return {**dict(zip(KEY[:5], parts[-6:-1], strict=False)), "seed": int(seed.group(1))}


def run_key(metrics_path) -> dict:
    """The run's key (suite, task, quality, algorithm, variant, seed) as its directory names it."""
    return _path_key(Path(metrics_path))


def _read_metrics(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(path, f"unreadable ({type(exc).__name__}: {exc})")
    try:
        m = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(path, f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})")
    if not isinstance(m, dict):
        _fail(path, f"holds a JSON {type(m).__name__}, not an object")
    missing = [k for k in KEY + ["schema_version", "status"] if k not in m]
    if missing:
        _fail(path, f"missing key(s) {', '.join(missing)}")
    bad = [k for k in KEY[:5] if not isinstance(m[k], str)]
    if bad or isinstance(m["seed"], bool) or not isinstance(m["seed"], int):
        _fail(path, "the run's key must be strings and an integer seed, got "
                    + ", ".join(f"{k}={m[k]!r}" for k in bad + ["seed"]))
    if m["status"] not in STATUSES:
        _fail(path, f"unknown status {m['status']!r} (known: {', '.join(STATUSES)})")
    if m["status"] == "ok":
        for name, metric in METRICS.items():
            v = m.get(metric.source or name, 0.0)
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real)):
                _fail(path, f"{metric.source or name} is {v!r}, not a number")
    if "final_eval_episodes" in m:
        missing = [f"final_{metric.source or name}" for name, metric in METRICS.items()
                   if f"final_{metric.source or name}" not in m]
        if missing:
            _fail(path, f"final_eval_episodes without {', '.join(missing)}")
        for name, metric in METRICS.items():
            v = m[f"final_{metric.source or name}"]
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real)):
                _fail(path, f"final_{metric.source or name} is {v!r}, not a number")
    want = _path_key(path)
    wrong = [f"{k} {m[k]!r} (its directory says {want[k]!r})" for k in KEY if m[k] != want[k]]
    if wrong:
        _fail(path, "does not belong to its run directory: " + "; ".join(wrong))
    return m


def _read_curve(path: Path) -> pd.DataFrame:
    if not path.is_file():
        _fail(path, "missing (a run's curve.csv is written before its metrics.json)")
    try:
        curve = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        _fail(path, "empty")
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        _fail(path, f"not a readable CSV ({type(exc).__name__}: {str(exc).strip()[:200]})")
    need = ["step"] + [metric.source or name for name, metric in METRICS.items()]
    missing = [c for c in need if c not in curve.columns]
    if missing:
        _fail(path, f"missing column(s) {', '.join(missing)} (has {', '.join(map(str, curve.columns))})")
    if len(curve) == 0:
        _fail(path, "no evaluations (a header and no rows)")
    for c in need:
        values = pd.to_numeric(curve[c], errors="coerce")
        if values.isna().sum() > curve[c].isna().sum() or (c == "step" and values.isna().any()):
            _fail(path, f"column {c} holds values that are not numbers")
        curve[c] = values
    return curve


def read_run(metrics_path) -> pd.DataFrame:
    metrics_path = Path(metrics_path)
    m = _read_metrics(metrics_path)
    curve = _read_curve(metrics_path.parent / "curve.csv")
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
        try:
            m["updates_per_s"] = json.loads(timing.read_text()).get("updates_per_s")
        except (json.JSONDecodeError, OSError, AttributeError) as exc:
            _fail(timing, f"not a JSON object of wall-clock figures ({type(exc).__name__}: {exc})")
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


def refuse_stale_runs(pairs, log=print) -> None:
    """Runs (``(metrics.json, dataset path)`` pairs) whose recorded dataset checksum is not the file's
    now at the dataset's path are set aside (the next invocation retrains them) and refused, named:
    a table of data that no longer exist is never made (``pipeline/stale_runs.py``)."""
    from pipeline.stale_runs import set_aside_stale_runs

    stale = set_aside_stale_runs(pairs, log=log)
    if stale:
        raise AggregationError(f"{len(stale)} run(s) trained on a dataset that is no longer at its path: "
                               + "; ".join(s.describe() for s in stale)
                               + ". Their results are set aside (metrics.json.stale-*); run the same command "
                                 "again and the workflow retrains them on the dataset there now")


def aggregate(metrics_paths, datasets=None) -> pd.DataFrame:
    """Every run into one table.  ``datasets``: each run's dataset path (a function of its
    metrics.json path); given, a run trained on other data than the file there now is refused
    (``refuse_stale_runs``)."""
    paths = list(metrics_paths)
    if not paths:
        raise AggregationError("no runs to aggregate")
    if datasets is not None:
        refuse_stale_runs([(p, datasets(p)) for p in paths])
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

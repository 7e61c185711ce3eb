"""A Snakemake run's log read back: its jobs (rule, start, end), and the wall time of each
pipeline stage (datasets, training, report) for the provenance of a committed run
(``pipeline/run_provenance.py``)."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd

#: Snakemake rules by pipeline stage (workflow/rules/*.smk); any other rule is a dataset rule
TRAINING_RULES = {"train"}
REPORT_RULES = {"aggregate", "tables", "figure_alpha", "learning_curves", "statistics", "marl_eval",
                "performance_profiles", "dataset_stats", "behaviour_curves", "latex_check", "all_tables"}


_TIMESTAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
_RULE = re.compile(r"^(?:local)?rule (\w+):$")
_JOBID = re.compile(r"^\s+jobid: (\d+)$")
_FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)")
_ERROR = re.compile(r"^Error in rule (\w+):")


def stage_of(rule: str) -> str:
    return "training" if rule in TRAINING_RULES else "report" if rule in REPORT_RULES else "datasets"


def job_times(log_text: str) -> pd.DataFrame:
    """One row per job of a Snakemake log: rule, stage, start, end (datetimes; end NaT for a job
    that did not finish: failed or cut short) and whether it is unfinished."""
    now, pending_rule, jobs, failed = None, None, {}, set()
    for line in log_text.splitlines():
        if m := _TIMESTAMP.match(line):
            now = dt.datetime.strptime(" ".join(m.group(1).split()), "%a %b %d %H:%M:%S %Y")
        elif m := _RULE.match(line):
            pending_rule = m.group(1)
        elif (m := _JOBID.match(line)) and pending_rule:
            jobs[int(m.group(1))] = {"rule": pending_rule, "start": now, "end": None}
            pending_rule = None
        elif m := _FINISHED.match(line):
            if int(m.group(1)) in jobs:
                jobs[int(m.group(1))]["end"] = now
        elif m := _ERROR.match(line):
            failed.add(m.group(1))
    df = pd.DataFrame([{"jobid": k, **v} for k, v in jobs.items()])
    if df.empty:
        raise ValueError("the Snakemake log names no jobs")
    df["stage"] = df["rule"].map(stage_of)
    df["unfinished"] = df["end"].isna()
    return df


def busy_seconds(starts, ends) -> float:
    """Length of the union of the intervals [start, end): the time at least one of them ran."""
    total, cur_start, cur_end = 0.0, None, None
    for a, b in sorted(zip(starts, ends, strict=False)):
        if cur_end is None or a > cur_end:
            if cur_end is not None:
                total += (cur_end - cur_start).total_seconds()
            cur_start, cur_end = a, b
        else:
            cur_end = max(cur_end, b)
    if cur_end is not None:
        total += (cur_end - cur_start).total_seconds()
    return total


def _stage_span(stage: str, done: pd.DataFrame, unfinished: int) -> dict:
    return {"stage": stage, "jobs": int(len(done)), "unfinished_jobs": unfinished,
            "start": done["start"].min().isoformat(), "end": done["end"].max().isoformat(),
            "wall_s": (done["end"].max() - done["start"].min()).total_seconds(),
            "busy_s": busy_seconds(done["start"], done["end"]),
            "job_s": float((done["end"] - done["start"]).dt.total_seconds().sum())}


def stage_wall_times(jobs: pd.DataFrame) -> list:
    """Per stage: wall time (first start to last end), the jobs' summed time (core time at one
    thread per job) and the job count; then the whole run."""
    out = []
    done = jobs.dropna(subset=["end"])
    for stage in ("datasets", "training", "report"):
        g = done[done["stage"] == stage]
        if g.empty:
            continue
        out.append(_stage_span(stage, g, int(jobs[jobs["stage"] == stage]["unfinished"].sum())))
    out.append(_stage_span("total", done, int(jobs["unfinished"].sum())))
    return out


def newest_training_log(run_dir: Path) -> Path:
    logs = sorted((run_dir / ".snakemake" / "log").glob("*.snakemake.log"))
    for log in reversed(logs):
        if re.search(r"^(?:local)?rule train:$", log.read_text(), re.M):
            return log
    raise FileNotFoundError(f"no Snakemake log with training jobs under {run_dir}/.snakemake/log")

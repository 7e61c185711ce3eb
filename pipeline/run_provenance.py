"""Where and how a committed run was made (``reports/<profile>/provenance.json``): the commit
its training runs executed, the commit that rendered its reports, the machine, the software
versions and the wall time of each stage, read from the run's Snakemake log."""
from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

import pandas as pd

from pipeline.snakemake_log import job_times, stage_wall_times


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    mem_gb = None
    try:
        kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")))
        mem_gb = round(kb / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb, "os": platform.platform(),
            "python": platform.python_version(), "gpu": None}


def software_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for pkg in ("torch", "jax", "jaxmarl", "gymnasium-robotics", "mujoco", "snakemake", "numpy", "pandas"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _git(run_dir: Path, *args) -> str:
    return subprocess.run(["git", "-C", str(run_dir), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def provenance(config: dict, run_dir: Path, logs, scores: pd.DataFrame = None, datasets_logs=()) -> dict:
    """``commit``: the commit the training runs executed (their metrics.json ``code_version``,
    via scores.csv ``code_commit``; the checkout's HEAD when the scores do not say);
    ``report_commit``: the checkout's HEAD now, whose code rendered the tables and this page.
    ``logs``: the run's Snakemake log, or its logs in order when the run took several invocations
    of Snakemake (e.g. the main table's runs first, an ablation's after): their jobs together
    make the stages' wall times.  ``datasets_logs``: earlier invocations whose datasets jobs the run
    kept and whose training it discarded (e.g. stopped to change the code): their datasets jobs
    alone count, those that finished."""
    logs = [Path(logs)] if isinstance(logs, (str, Path)) else [Path(p) for p in logs]
    if not logs:
        raise ValueError("provenance needs the run's Snakemake log")
    texts = [log.read_text() for log in logs]
    # a datasets job cut short there was redone in a later invocation: the finished ones alone
    kept = [j[(j["stage"] == "datasets") & ~j["unfinished"]] for j in (job_times(Path(p).read_text())
                                                                         for p in datasets_logs)]
    jobs = pd.concat([*kept, *(job_times(t) for t in texts)], ignore_index=True)
    head = _git(run_dir, "rev-parse", "HEAD")
    run_commit, run_dirty = None, bool(_git(run_dir, "status", "--porcelain", "--untracked-files=no"))
    if scores is not None and "code_commit" in scores:
        commits = sorted(scores["code_commit"].dropna().unique())
        if len(commits) > 1:
            raise ValueError(f"the runs executed {len(commits)} commits ({', '.join(commits)}): not one run")
        run_commit = commits[0] if commits else None
        run_dirty = bool(scores["code_dirty"].fillna(False).astype(bool).any())
    cores = next((m for t in texts if (m := re.search(r"^Provided cores: (\d+)", t, re.M))), None)
    return {"profile": config["profile"], "config": f"config/{config['profile']}.yaml",
            "command": f"snakemake all_tables --cores {cores.group(1) if cores else '?'} --keep-going "
                       f"--configfile config/{config['profile']}.yaml",
            "commit": run_commit or head, "commit_dirty": run_dirty,
            "report_commit": head,
            "machine": machine(), "software": software_versions(),
            "snakemake_log": ", ".join(log.name for log in logs), "invocations": len(logs),
            **({"datasets_logs": ", ".join(Path(p).name for p in datasets_logs)} if datasets_logs else {}),
            "stages": stage_wall_times(jobs)}

"""The committed reference results (issues 13, 22): ``reports/reference/RESULTS.md``.

    python -m analysis.reference_results [--config config/reference.yaml] [--run-dir .]

After ``snakemake all_tables --configfile config/reference.yaml`` (``make reference``):

1. copies the run's ``results/<profile>/scores.csv`` into ``reports/<profile>/`` (the tables,
   figures and statistics are there already), so the committed folder holds the numbers
   every table is rendered from;
2. writes ``reports/<profile>/provenance.json``: the commit the run executed, the machine, the
   software versions and the wall time of each stage, read from the run's Snakemake log
   (``--log``; default: the newest log under ``<run-dir>/.snakemake/log`` that ran training
   jobs);
3. renders ``RESULTS.md`` from those committed files alone (``results_context`` computes every
   value, ``reports/templates/RESULTS.md.j2`` holds the prose), so that
   ``tests/test_reference_results.py`` can regenerate it and the tables and find them equal.

RESULTS.md sets the main tables beside the paper's numbers (Tables 1-2, and for MaMuJoCo the
numbers behind Table 3 from the authors' notebook, ``analysis/data/paper_table3_mamujoco.csv``),
ComaDICE's rank per row here and in the paper, Kendall's tau-b between our and the paper's
order of the methods both have, per row and its mean, Figure 1's alpha sweep per suite and per
cell beside the notebook's (``paper_ablations.csv``), the datasets beside the published ones,
the training length against the authors', the statistics table and the provenance.  Every
number in it is read from the files beside it.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import subprocess
from pathlib import Path

import jinja2
import pandas as pd
import yaml
from scipy import stats as sps

from analysis.dataset_stats import PUBLISHED_SMAC_MAX_RETURN, SMAC_MAX_RETURN, with_published
from analysis.score_checks import ScoresError, check_scores
from analysis.tables import PAPER_DATA, build_table, paper_reference
from analysis.tables import _rank as _table_rank
from behaviour.qualities import MEDIUM_FRACTION
from envs.files import atomic_copy, atomic_write_text
from envs.registry import get_task
from envs.suites import get_metric, get_suite
from pipeline.grid import training_length, variant_for
from pipeline.paths import paths_for
from pipeline.report_plan import algorithm_columns, report_algorithms

ROOT = Path(__file__).resolve().parent.parent
#: the paper's grid: its ``train.epochs`` are the authors' training lengths (vietbt/ComaDICE run.py)
AUTHORS_CONFIG = ROOT / "config" / "config.yaml"
FOCUS = "ComaDICE"
#: RESULTS.md's template (beside the LaTeX tables' templates)
TEMPLATES = ROOT / "reports" / "templates"
#: the notebook's default f-divergence: its alpha sweep is at soft-chi^2 (paper Sec. 6.4)
NOTEBOOK_DEFAULT_F = "soft_chisquare"
#: the paper's counts of rows where ComaDICE is best (Table 1: 11 of 12, Table 2: 14 of 15; issue 13)
PAPER_BEST_COUNTS = {"smacv1": (11, 12), "smacv2": (14, 15)}

#: Snakemake rules by pipeline stage (workflow/rules/*.smk); any other rule is a dataset rule
TRAINING_RULES = {"train"}
REPORT_RULES = {"aggregate", "tables", "figure_alpha", "learning_curves", "statistics", "dataset_stats",
                "behaviour_curves", "latex_check", "all_tables"}


# -- provenance: the commit, the machine and the wall time per stage ---------------------------

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
    for a, b in sorted(zip(starts, ends)):
        if cur_end is None or a > cur_end:
            if cur_end is not None:
                total += (cur_end - cur_start).total_seconds()
            cur_start, cur_end = a, b
        else:
            cur_end = max(cur_end, b)
    if cur_end is not None:
        total += (cur_end - cur_start).total_seconds()
    return total


def stage_wall_times(jobs: pd.DataFrame) -> list:
    """Per stage: wall time (first start to last end), the jobs' summed time (core time at one
    thread per job) and the job count; then the whole run."""
    out = []
    done = jobs.dropna(subset=["end"])
    for stage in ("datasets", "training", "report"):
        g = done[done["stage"] == stage]
        if g.empty:
            continue
        unfinished = int(jobs[jobs["stage"] == stage]["unfinished"].sum())
        out.append({"stage": stage, "jobs": int(len(g)), "unfinished_jobs": unfinished,
                    "start": g["start"].min().isoformat(), "end": g["end"].max().isoformat(),
                    "wall_s": (g["end"].max() - g["start"].min()).total_seconds(),
                    "busy_s": busy_seconds(g["start"], g["end"]),
                    "job_s": float((g["end"] - g["start"]).dt.total_seconds().sum())})
    out.append({"stage": "total", "jobs": int(len(done)), "unfinished_jobs": int(jobs["unfinished"].sum()),
                "start": done["start"].min().isoformat(), "end": done["end"].max().isoformat(),
                "wall_s": (done["end"].max() - done["start"].min()).total_seconds(),
                "busy_s": busy_seconds(done["start"], done["end"]),
                "job_s": float((done["end"] - done["start"]).dt.total_seconds().sum())})
    return out


def _machine() -> dict:
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


def _versions() -> dict:
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


def newest_training_log(run_dir: Path) -> Path:
    logs = sorted((run_dir / ".snakemake" / "log").glob("*.snakemake.log"))
    for log in reversed(logs):
        if re.search(r"^(?:local)?rule train:$", log.read_text(), re.M):
            return log
    raise FileNotFoundError(f"no Snakemake log with training jobs under {run_dir}/.snakemake/log")


def provenance(config: dict, run_dir: Path, log: Path, scores: pd.DataFrame = None) -> dict:
    """``commit``: the commit the training runs executed (their metrics.json ``code_version``,
    via scores.csv ``code_commit``; the checkout's HEAD when the scores do not say);
    ``report_commit``: the checkout's HEAD now, whose code rendered the tables and this page."""
    text = log.read_text()
    jobs = job_times(text)
    head = _git(run_dir, "rev-parse", "HEAD")
    run_commit, run_dirty = None, bool(_git(run_dir, "status", "--porcelain", "--untracked-files=no"))
    if scores is not None and "code_commit" in scores:
        commits = sorted(scores["code_commit"].dropna().unique())
        if len(commits) > 1:
            raise ValueError(f"the runs executed {len(commits)} commits ({', '.join(commits)}): not one run")
        run_commit = commits[0] if commits else None
        run_dirty = bool(scores["code_dirty"].fillna(False).astype(bool).any())
    cores = re.search(r"^Provided cores: (\d+)", text, re.M)
    return {"profile": config["profile"], "config": f"config/{config['profile']}.yaml",
            "command": f"snakemake all_tables --cores {cores.group(1) if cores else '?'} --keep-going "
                       f"--configfile config/{config['profile']}.yaml",
            "commit": run_commit or head, "commit_dirty": run_dirty,
            "report_commit": head,
            "machine": _machine(), "software": _versions(),
            "snakemake_log": log.name, "stages": stage_wall_times(jobs)}


# -- the comparison with the paper --------------------------------------------------------------

def _means(table: pd.DataFrame, suite, task, quality) -> dict:
    g = table[(table["suite"] == suite) & (table["task"] == task) & (table["quality"] == quality)]
    return {a: m for a, m in zip(g["algorithm"], g["mean"]) if not (m is None or math.isnan(m))}


def rank_of(means: dict, algo: str):
    """1-based rank of ``algo`` (ties share the best rank), None without a mean: the paper-vs-ours
    table's rank (``analysis/tables.py``), one definition for both."""
    return _table_rank(means, algo)


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


def comparison_rows(scores: pd.DataFrame, config: dict, reference: pd.DataFrame = None) -> pd.DataFrame:
    """Per row of the main tables: ComaDICE's rank here (last evaluation, the paper's statistic,
    among all methods and among the paper's row's methods; and on the final evaluation) and in
    the paper, the best algorithm of each, and
    Kendall's tau-b between the two orders of the algorithms."""
    ref = paper_reference() if reference is None else reference
    algos = report_algorithms(config)
    suites = list(config["suites"])
    cols = algorithm_columns(algos)
    ours, _ = build_table(scores, suites, cols, rows=grid_rows(config), seeds=config.get("seeds"))
    rows = []
    keys = list(dict.fromkeys(zip(ours["suite"], ours["task"], ours["quality"])))
    for suite, task, quality in keys:
        o = _means(ours, suite, task, quality)
        final_metric = "final_" + get_suite(suite).metric
        f, _ = build_table(scores, [suite], cols, metric=final_metric, rows=[(suite, task, quality)])
        fo = _means(f, suite, task, quality)
        p = {a: m for a, m in _means(ref, suite, task, quality).items() if a in algos}
        # the paper's row may lack methods (Table 3: no OptDICE, AlberDICE): rank among those it has too
        common = {a: v for a, v in o.items() if a in p}
        rows.append({"suite": suite, "task": task, "quality": quality,
                     "ours_comadice": o.get(FOCUS, math.nan), "paper_comadice": p.get(FOCUS, math.nan),
                     "ours_rank": rank_of(o, FOCUS), "ours_final_rank": rank_of(fo, FOCUS),
                     "ours_common_rank": rank_of(common, FOCUS) if p else None, "n_common": len(common) or None,
                     "paper_rank": rank_of(p, FOCUS), "n_algorithms": len(o),
                     "ours_best": best_of(o), "paper_best": best_of(p),
                     "kendall_tau": kendall_tau(o, p) if p else math.nan})
    return pd.DataFrame(rows)


def alpha_summary(scores: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Figure 1's numbers: per suite and alpha, the mean over seeds of the per-seed mean over
    the suite's cells (analysis/figures.py alpha_frame), its std over seeds and the seeds."""
    from analysis.figures import alpha_frame
    abl = config.get("ablations") or {}
    variants = {a: variant_for(config, "alpha", a) for a in abl.get("alpha", [])}
    cells = {s: [(t, q) for t in config["suites"][s]["tasks"] for q in config["suites"][s]["qualities"]]
             for s in abl.get("suites", []) if s in config["suites"]}
    frame = alpha_frame(scores, variants, abl.get("suites", []), cells)
    if frame.empty:
        return pd.DataFrame(columns=["suite", "alpha", "mean", "std", "seeds", "left_out", "missing"])
    out = frame.groupby(["suite", "alpha"], sort=False).agg(mean=("value", "mean"), std=("value", "std"),
                                                           seeds=("value", "count"), left_out=("left_out", "first"),
                                                           missing=("missing", "first"))
    return out.reset_index().sort_values(["suite", "alpha"], kind="stable")


def paper_ablations() -> pd.DataFrame:
    """The authors' notebook's ComaDICE against alpha (soft-chi^2), per cell (analysis/data)."""
    df = pd.read_csv(PAPER_DATA / "paper_ablations.csv")
    return df[df["f_divergence"] == NOTEBOOK_DEFAULT_F].reset_index(drop=True)


def alpha_cells(scores: pd.DataFrame, config: dict, notebook: pd.DataFrame = None) -> pd.DataFrame:
    """Per cell of the alpha sweep and alpha: ComaDICE's last evaluation here (mean, ddof-0 std
    over seeds, as the tables) beside the authors' notebook's (``paper_ablations.csv``)."""
    nb = paper_ablations() if notebook is None else notebook
    abl = config.get("ablations") or {}
    final = scores[scores["is_final"] & (scores["algorithm"] == FOCUS)]
    rows = []
    for suite in abl.get("suites", []):
        metric = get_suite(suite).metric
        spec = config["suites"].get(suite) or {}
        for task in spec.get("tasks", []):
            for quality in spec.get("qualities", []):
                for alpha in abl.get("alpha", []):
                    g = final[(final["suite"] == suite) & (final["task"] == task) & (final["quality"] == quality)
                              & (final["variant"] == variant_for(config, "alpha", alpha))]
                    p = nb[(nb["suite"] == suite) & (nb["task"] == task) & (nb["quality"] == quality)
                           & (nb["alpha"].astype(float) == float(alpha))]
                    ok = g[g["status"] == "ok"][metric]
                    rows.append({"suite": suite, "task": task, "quality": quality, "alpha": float(alpha),
                                 "mean": float(ok.mean()) if len(ok) else math.nan,
                                 "std": float(ok.std(ddof=0)) if len(ok) else math.nan,
                                 "seeds": int(len(ok)), "diverged": int((g["status"] == "diverged").sum()),
                                 "paper_mean": float(p["mean"].iloc[0]) if len(p) else math.nan,
                                 "paper_std": float(p["std"].iloc[0]) if len(p) else math.nan})
    return pd.DataFrame(rows, columns=["suite", "task", "quality", "alpha", "mean", "std", "seeds", "diverged",
                                       "paper_mean", "paper_std"])


def _peak(values: dict):
    """The alpha of the largest mean (None without any)."""
    values = {a: v for a, v in values.items() if v == v}
    return max(values, key=values.get) if values else None


def training_lengths(config: dict, datasets: pd.DataFrame) -> pd.DataFrame:
    """Per cell: the updates of this profile against the authors' (their epochs x |D| // batch,
    harness/train.py, with the epochs of config/config.yaml)."""
    authors = yaml.safe_load(AUTHORS_CONFIG.read_text())
    batch = int(config["train"]["batch_size"])
    rows = []
    for _, d in datasets.iterrows():
        ours = training_length(config, d["suite"], d["task"])
        epochs = training_length(authors, d["suite"], d["task"])["epochs"]
        authors_updates = max(1, int(epochs * (int(d["samples"]) // int(authors["train"]["batch_size"]))))
        n = ours.get("n_updates") or max(1, int(ours["epochs"] * (int(d["samples"]) // batch)))
        rows.append({"suite": d["suite"], "task": d["task"], "quality": d["quality"], "samples": int(d["samples"]),
                     "updates": n, "authors_epochs": epochs, "authors_updates": authors_updates,
                     "fraction": n / authors_updates})
    return pd.DataFrame(rows)


# -- RESULTS.md: numbers formatted here, the prose in reports/templates/RESULTS.md.j2 -------------

def _num(v, decimals=1, std=None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    s = f"{v:.{decimals}f}"
    return s + (f" ± {std:.{decimals}f}" if std is not None and not math.isnan(std) else "")


def _kilo(v) -> str:
    """A published dataset's size as the authors' notebook prints it (``138.7K``); – for none."""
    return "–" if v is None or v != v else f"{v / 1000:.1f}K"


def _rank(r, n=None) -> str:
    if r is None or (isinstance(r, float) and math.isnan(r)):
        return "–"
    return f"{int(r)}" + (f"/{int(n)}" if n and n == n else "")


def _md_table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    m = int(round(seconds / 60))
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else f"{m} min"


def _markdown_environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)


def grid_rows(config: dict) -> list:
    """The grid's (suite, task, quality) cells in the tables' order: what the main tables show,
    a cell without runs included (shown missing, never dropped)."""
    from analysis.tables import row_key
    cells = [(s, t, q) for s, spec in config["suites"].items() for t in spec["tasks"] for q in spec["qualities"]]
    return sorted(cells, key=lambda k: row_key(*k))


def _main_table(ours: pd.DataFrame, ref: pd.DataFrame, algos: list, n_seeds: int = None, absent: dict = None) -> str:
    """The main table in Markdown: a cell with fewer seeds than the grid's ``n_seeds`` is shown with
    its count ("k of n seeds"), a diverged one as "div. k/n" (no number), a cell without runs as "–";
    each mark is explained under the table, as the LaTeX tables' captions do."""
    rows, marks = [], []
    absent = absent or {}
    for suite, task, quality in dict.fromkeys(zip(ours["suite"], ours["task"], ours["quality"])):
        o = ours[(ours["suite"] == suite) & (ours["task"] == task) & (ours["quality"] == quality)]
        p = _means(ref, suite, task, quality)
        om = {a: v for a, v in _means(ours, suite, task, quality).items() if math.isfinite(v)}
        best = max(om.values()) if om else None
        cells = []
        name = f"{get_task(task, suite).display} {quality}"
        if not om and not o["n_diverged"].fillna(0).astype(int).any():
            marks.append(f"{name}: no runs in the scores")
        for a in algos:
            r = o[o["algorithm"] == a]
            mean, std = (float(r["mean"].iloc[0]), float(r["std"].iloc[0])) if len(r) else (math.nan, math.nan)
            n = int(r["n_seeds"].iloc[0]) if len(r) else 0
            k = int(r["n_diverged"].iloc[0]) if len(r) and "n_diverged" in r else 0
            if k:
                txt = f"div. {k}/{k + n}"
                marks.append(f"{name} {a}: {k} of {k + n} seeds diverged (no number is shown)")
            else:
                txt = _num(mean, 1, std)
                if best is not None and math.isfinite(mean) and round(mean, 1) == round(best, 1):
                    txt = f"**{txt}**"
                if n_seeds and 0 < n < n_seeds:
                    txt += f" ({n} of {n_seeds} seeds)"
                    why = absent.get((suite, task, quality, a))
                    marks.append(f"{name} {a}: mean over {n} of {n_seeds} seeds" + (f" ({why})" if why else ""))
            cells.append(txt + (f" / {_num(p[a])}" if a in p else ""))
        rows.append([get_task(task, suite).display, quality, *cells])
    table = _md_table(["task", "quality", *algos], rows)
    if marks:
        table += "\n\nMarked: " + "; ".join(marks) + "."
    return table


def _absent_runs(scores: pd.DataFrame, config: dict, algos: list) -> dict:
    """Per (suite, task, quality, algorithm) of the main tables: which seeds its mean lacks and why."""
    from analysis.tables import absent_seeds
    final = scores[scores["is_final"] & (scores["variant"] == "default")]
    out = {}
    for suite, task, quality in grid_rows(config):
        m = get_suite(suite).metric
        cell = final[(final["suite"] == suite) & (final["task"] == task) & (final["quality"] == quality)]
        for a in algos:
            runs = cell[cell["algorithm"] == a]
            diverged = "status" in runs and (runs["status"] == "diverged").any()
            if len(runs) and not diverged:  # a diverged cell is marked as diverged, without a mean
                why = absent_seeds(list(config["seeds"]), runs, runs[m].dropna())
                if why:
                    out[(suite, task, quality, a)] = why
    return out


def read_scores(path) -> pd.DataFrame:
    """A committed scores.csv, checked (``analysis/score_checks.py``): refused naming the file when
    empty, without runs, or with a run counted twice or a non-finite value."""
    path = Path(path)
    try:
        scores = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ScoresError(f"{path}: empty; nothing to report") from None
    check_scores(scores, str(path))
    if FOCUS not in set(scores.loc[scores["is_final"].astype(bool), "algorithm"]):
        raise ScoresError(f"{path}: no {FOCUS} run; RESULTS.md sets {FOCUS} beside the paper and has nothing to "
                          "compare")
    return scores


def _rank_summary(comp: pd.DataFrame) -> dict:
    with_paper = comp.dropna(subset=["paper_comadice"])
    taus = with_paper["kendall_tau"].dropna()
    by_suite = []
    for suite, g in with_paper.groupby("suite", sort=False):
        t = g["kendall_tau"].dropna()
        by_suite.append(f"{get_suite(suite).title} {_num(t.mean(), 2)} over {len(t)}")
    return {"rows": len(comp), "rows_with_paper": len(with_paper),
            "best_ours": int((comp["ours_best"] == FOCUS).sum()),            # best alone, not tied
            "best_ours_with_paper": int((with_paper["ours_best"] == FOCUS).sum()),
            "best_paper": int((with_paper["paper_best"] == FOCUS).sum()),
            "best_both": int(((with_paper["ours_best"] == FOCUS) & (with_paper["paper_best"] == FOCUS)).sum()),
            "best_rows_ours": ", ".join(f"{get_task(r.task, r.suite).display} {r.quality}"
                                        for r in comp.itertuples() if r.ours_best == FOCUS) or "none",
            "tied": int(comp["ours_best"].astype(str).str.startswith("tie").sum()),
            "paper_counts": ", ".join(f"{b} of {n} in Table {1 if s == 'smacv1' else 2}"
                                      for s, (b, n) in PAPER_BEST_COUNTS.items()),
            "n_taus": len(taus), "tau_mean": _num(taus.mean(), 2),
            "tau_min": _num(taus.min(), 2) if len(taus) else "–", "tau_max": _num(taus.max(), 2) if len(taus) else "–",
            "tau_by_suite": "; ".join(by_suite)}


def _diverged_note(cell) -> str:
    """' (k of n diverged)' where some seeds of an alpha-sweep cell diverged (their numbers are
    not in its mean), '' otherwise."""
    k = int(cell["diverged"])
    return f" ({k} of {k + int(cell['seeds'])} diverged)" if k else ""


def _alpha_tables(alpha: pd.DataFrame, cells: pd.DataFrame, config: dict) -> dict:
    """Figure 1 per suite (ours; the notebook's mean over the same cells) and per cell."""
    alphas = sorted({float(a) for a in (config.get("ablations") or {}).get("alpha", [])})
    suite_rows, cell_rows, peaks = [], [], []
    for suite, g in cells.groupby("suite", sort=False):
        d = 1 if get_metric(get_suite(suite).metric).scale else 0
        a = alpha[alpha["suite"] == suite].set_index("alpha")
        nb = g.groupby("alpha")["paper_mean"].mean()
        ours_by = {x: float(a.loc[x, "mean"]) if x in a.index else math.nan for x in alphas}
        def left_out(x):  # seeds of which some cell diverged or lacks a value are not in the suite's mean
            if x not in a.index:
                return " (no seed has every cell)"
            k, m, n = int(a.loc[x, "left_out"]), int(a.loc[x, "missing"]), int(a.loc[x, "seeds"])
            why = [f"{k} left out, diverged"] if k else []
            why += [f"{m} left out, a cell without a value"] if m else []
            return f" ({n} seed{'s' if n != 1 else ''}; {'; '.join(why)})" if why else ""

        # a peak over fewer alphas than swept is no peak: "–" and the alphas without a value say why
        complete = all(x in a.index for x in alphas)
        suite_rows.append([get_suite(suite).title + " (ours)",
                           *[_num(ours_by[x], d, float(a.loc[x, "std"]) if x in a.index else None) + left_out(x)
                             for x in alphas],
                           f"alpha = {_peak(ours_by):g}" if complete and _peak(ours_by) is not None else "–"])
        nb_by = {x: float(nb.get(x, math.nan)) for x in alphas}
        suite_rows.append([get_suite(suite).title + " (notebook, same cells)", *[_num(nb_by[x], d) for x in alphas],
                           f"alpha = {_peak(nb_by):g}" if _peak(nb_by) is not None else "–"])
        for (task, quality), c in g.groupby(["task", "quality"], sort=False):
            c = c.set_index("alpha")
            o = {x: c.loc[x, "mean"] for x in alphas if x in c.index}
            p = {x: c.loc[x, "paper_mean"] for x in alphas if x in c.index}
            po, pp = _peak(o), _peak(p)
            peaks.append((po, pp))
            cell_rows.append([get_task(task, suite).display, quality,
                              *[_num(c.loc[x, "mean"], d, c.loc[x, "std"]) + _diverged_note(c.loc[x])
                                + " / " + _num(c.loc[x, "paper_mean"], d) if x in c.index else "–" for x in alphas],
                              f"{po:g}" if po is not None else "–", f"{pp:g}" if pp is not None else "–"])
    header = [f"alpha {x:g}" for x in alphas]
    return {"suite_table": _md_table(["suite", *header, "peak"], suite_rows) if suite_rows else "",
            "cell_table": _md_table(["task", "quality", *header, "peak (ours)", "peak (notebook)"], cell_rows)
            if cell_rows else "",
            "same_peak": sum(1 for po, pp in peaks if po is not None and po == pp), "cells": len(peaks)}


def _dataset_table(datasets: pd.DataFrame) -> str:
    rows = []
    for r in with_published(datasets).itertuples():
        d = 2 if get_suite(r.suite).dataset_kind == "smac" else 1
        rows.append([get_task(r.task, r.suite).display, r.quality, r.trajectories, f"{int(r.samples):,}",
                     _num(r.return_mean, d, r.return_std), _num(r.return_of_max, 2), _num(r.win_rate_pct, 1),
                     _kilo(r.published_trajectories), _kilo(r.published_transitions),
                     _num(r.published_return_mean, 1, r.published_return_std), _num(r.published_return_of_max, 2),
                     _num(r.ours_vs_published_pct, 0)])
    return _md_table(["task", "quality", "trajectories", "samples", "behaviour return", "of max",
                      "behaviour win rate (%)", "published trajectories", "published transitions",
                      "published return", "of max", "ours / published (%)"], rows)


def _behaviour_budgets(config: dict) -> str:
    """The behaviour runs' env steps per task, as the profile sets them (pipeline/costs.py)."""
    from pipeline.costs import smax_env_steps
    parts = []
    for suite, spec in config["suites"].items():
        for task in spec["tasks"]:
            if get_suite(suite).dataset_kind == "smac":
                steps = smax_env_steps(config, task)
            else:
                steps = ((config["datasets"].get("mappo") or {}).get("mamujoco") or {}).get(
                    "env_steps", config["datasets"].get("mappo_env_steps", 1_000_000))
            parts.append(f"{get_task(task, suite).display} {steps / 1e6:g}M")
    return ", ".join(parts)


def results_context(report_dir, config: dict) -> dict:
    """Everything RESULTS.md shows, read from the committed files of ``report_dir`` alone."""
    report_dir = Path(report_dir)
    scores = read_scores(report_dir / "scores.csv")
    datasets = pd.read_csv(report_dir / "dataset_statistics.csv")
    prov = json.loads((report_dir / "provenance.json").read_text())
    statistics = pd.read_csv(report_dir / "statistics.csv")
    ref = paper_reference()
    algos = report_algorithms(config)
    suites = list(config["suites"])
    ours, _ = build_table(scores, suites, algorithm_columns(algos), rows=grid_rows(config), seeds=config.get("seeds"))
    comp = comparison_rows(scores, config, ref)
    shown = list(dict.fromkeys(zip(ours["suite"], ours["task"], ours["quality"])))
    empty = [f"{get_task(t, s).display} {q}" for s, t, q in shown
             if ours[(ours["suite"] == s) & (ours["task"] == t) & (ours["quality"] == q)]["n_seeds"].sum() == 0
             and not ours[(ours["suite"] == s) & (ours["task"] == t) & (ours["quality"] == q)]["n_diverged"].sum()]
    lengths = training_lengths(config, datasets)
    stages = {s["stage"]: s for s in prov["stages"]}
    final = scores[scores["is_final"]]
    train = config["train"]
    paper_algos = {s: sorted(set(ref[ref["suite"] == s]["algorithm"]) & set(algos), key=algos.index)
                   for s in suites}

    rank_rows = [[get_task(r.task, r.suite).display, r.quality, _rank(r.ours_rank, r.n_algorithms),
                  _rank(r.ours_common_rank, r.n_common), _rank(r.ours_final_rank), _rank(r.paper_rank, r.n_common),
                  r.ours_best if isinstance(r.ours_best, str) else "–",
                  r.paper_best if isinstance(r.paper_best, str) else "–", _num(r.kendall_tau, 2)]
                 for r in comp.itertuples()]
    stat_rows = []
    for r in statistics.itertuples():
        p = getattr(r, "p_comadice_better_probability", math.nan)
        stat_rows.append([get_suite(r.suite).title, r.algorithm, int(r.n_runs),
                          f"{r.iqm:.2f} [{r.iqm_low:.2f}, {r.iqm_high:.2f}]",
                          "–" if r.algorithm == FOCUS or p != p else
                          f"{p:.2f} [{r.p_comadice_better_low:.2f}, {r.p_comadice_better_high:.2f}]"])
    smac = [s for s in suites if get_suite(s).dataset_kind == "smac"]
    m = prov["machine"]
    frac = lengths["fraction"]
    return {
        "profile": config["profile"],
        "cells": f"{len(shown)} cells" + (f" ({len(empty)} without any run: {', '.join(empty)})" if empty else ""),
        "algorithms": algos, "n_seeds": len(final["seed"].unique()), "n_runs": int(len(final)),
        "n_diverged": int((final["status"] == "diverged").sum()),
        "total_time": _duration(stages["total"]["wall_s"]), "machine": m, "prov": prov,
        "train": train, "paper_algorithms": {get_suite(s).title: ", ".join(a) for s, a in paper_algos.items()},
        "missing_from_table3": ", ".join(a for a in algos if a not in paper_algos.get("mamujoco", algos)),
        "main_table": _main_table(ours, ref, algos, len(config["seeds"]), _absent_runs(scores, config, algos)),
        "rank_table": _md_table(["task", "quality", "ComaDICE rank (ours, all)", "(ours, the paper's methods)",
                                 "(ours, final eval)", "(paper)", "best (ours)", "best (paper)", "Kendall tau"],
                                rank_rows),
        "ranks": _rank_summary(comp),
        "alpha": _alpha_tables(alpha_summary(scores, config), alpha_cells(scores, config), config),
        "behaviour_budgets": _behaviour_budgets(config), "medium_fraction": f"{MEDIUM_FRACTION:g}",
        "smax_max_return": f"{SMAC_MAX_RETURN['smax']:.1f}", "published_smac_max": f"{PUBLISHED_SMAC_MAX_RETURN:g}",
        "dataset_table": _dataset_table(datasets),
        "length_table": _md_table(
            ["task", "quality", "samples", "updates here", "authors' updates", "fraction"],
            [[get_task(r.task, r.suite).display, r.quality, f"{r.samples:,}", f"{r.updates:,}",
              f"{r.authors_epochs:g} epochs = {r.authors_updates:,}", f"{100 * r.fraction:.0f}%"]
             for r in lengths.itertuples()]),
        "fraction_range": f"{100 * frac.min():.0f}%-{100 * frac.max():.0f}%",
        "statistics_table": _md_table(["suite", "algorithm", "runs", "IQM [95% CI]", "P(ComaDICE > X) [95% CI]"],
                                      stat_rows),
        "smac_backends": sorted(final[final["suite"].isin(smac)]["backend"].dropna().unique()),
        "curves": [(f"{get_task(t, s).display} {q}", f"curves/{s}/{t}/{q}.png")
                   for s, t, q in dict.fromkeys(zip(datasets["suite"], datasets["task"], datasets["quality"]))],
        "software": ", ".join(f"{k} {v}" for k, v in prov["software"].items() if v),
        "stage_table": _md_table(["stage", "jobs", "unfinished", "started", "span", "busy", "job time"],
                                 [[s["stage"], s["jobs"], s["unfinished_jobs"], s["start"].replace("T", " "),
                                   _duration(s["wall_s"]), _duration(s["busy_s"]), _duration(s["job_s"])]
                                  for s in prov["stages"]]),
    }


def render_results(report_dir, config: dict) -> str:
    """RESULTS.md's text from the committed files of ``report_dir`` alone."""
    return _markdown_environment().get_template("RESULTS.md.j2").render(**results_context(report_dir, config))


def collect(config: dict, run_dir: Path, log: Path = None) -> Path:
    """Copy the run's scores, write provenance.json and RESULTS.md into reports/<profile>/."""
    paths = paths_for(config)
    report_dir = ROOT / paths.reports
    src = run_dir / paths.scores
    if src.resolve() != (report_dir / "scores.csv").resolve():
        atomic_copy(src, report_dir / "scores.csv")
    prov = provenance(config, run_dir, log or newest_training_log(run_dir), pd.read_csv(report_dir / "scores.csv"))
    atomic_write_text(report_dir / "provenance.json", json.dumps(prov, indent=2) + "\n")
    # the config the run executed, beside its results: config/reference.yaml may later size another run
    atomic_write_text(report_dir / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    atomic_write_text(report_dir / "RESULTS.md", render_results(report_dir, config))
    return report_dir / "RESULTS.md"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="config/reference.yaml")
    p.add_argument("--run-dir", default=".", help="the checkout the run happened in (its results/ and .snakemake/)")
    p.add_argument("--log", default=None, help="the run's Snakemake log (default: the newest with training jobs)")
    a = p.parse_args(argv)
    config = yaml.safe_load(Path(a.config).read_text())
    print(f"wrote {collect(config, Path(a.run_dir).resolve(), Path(a.log) if a.log else None)}")


if __name__ == "__main__":
    main()

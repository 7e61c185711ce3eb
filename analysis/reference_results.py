"""The committed reference results (issue 13): ``reports/reference/RESULTS.md``.

    python -m analysis.reference_results [--config config/reference.yaml] [--run-dir .]

After ``snakemake all_tables --configfile config/reference.yaml`` (``make reference``):

1. copies the run's ``results/<profile>/scores.csv`` into ``reports/<profile>/`` (the tables,
   figures and statistics are there already), so the committed folder holds the numbers
   every table is rendered from;
2. writes ``reports/<profile>/provenance.json``: the commit the run executed, the machine, the
   software versions and the wall time of each stage, read from the run's Snakemake log
   (``--log``; default: the newest log under ``<run-dir>/.snakemake/log`` that ran training
   jobs);
3. renders ``RESULTS.md`` from those committed files alone (``render_results``), so that
   ``tests/test_reference_results.py`` can regenerate it and the tables and find them equal.

RESULTS.md sets the main tables beside the paper's numbers (Tables 1-2; the paper's Table 3,
MaMuJoCo, is not in our copy of the paper), ComaDICE's rank per row here and in the paper,
Kendall's tau-b between our and the paper's order of the algorithms per row, Figure 1's alpha
sweep, the datasets, the training length against the authors', the statistics table and the
provenance.  Every number in it is read from the files beside it.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import yaml
from scipy import stats as sps

from analysis.dataset_stats import PUBLISHED_SMAC_MAX_RETURN, SMAC_MAX_RETURN, with_published
from analysis.grid import training_length, variant_for
from analysis.paths import paths_for
from analysis.report_plan import algorithm_columns, report_algorithms
from analysis.tables import _rank as _table_rank
from analysis.tables import build_table, paper_reference
from tasks.files import atomic_write_text
from tasks.registry import get_task
from tasks.suites import get_metric, get_suite

ROOT = Path(__file__).resolve().parent.parent
#: the paper's grid: its ``train.epochs`` are the authors' training lengths (vietbt/ComaDICE run.py)
AUTHORS_CONFIG = ROOT / "config" / "config.yaml"
FOCUS = "ComaDICE"
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
    and the 320-episode final evaluation) and in the paper, the best algorithm of each, and
    Kendall's tau-b between the two orders of the algorithms."""
    ref = paper_reference() if reference is None else reference
    algos = report_algorithms(config)
    suites = list(config["suites"])
    cols = algorithm_columns(algos)
    ours, _ = build_table(scores, suites, cols)
    rows = []
    keys = list(dict.fromkeys(zip(ours["suite"], ours["task"], ours["quality"])))
    for suite, task, quality in keys:
        o = _means(ours, suite, task, quality)
        final_metric = "final_" + get_suite(suite).metric
        f, _ = build_table(scores, [suite], cols, metric=final_metric, rows=[(suite, task, quality)])
        fo = _means(f, suite, task, quality)
        p = {a: m for a, m in _means(ref, suite, task, quality).items() if a in algos}
        rows.append({"suite": suite, "task": task, "quality": quality,
                     "ours_comadice": o.get(FOCUS, math.nan), "paper_comadice": p.get(FOCUS, math.nan),
                     "ours_rank": rank_of(o, FOCUS), "ours_final_rank": rank_of(fo, FOCUS),
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
    frame = alpha_frame(scores, variants, abl.get("suites", []))
    if frame.empty:
        return pd.DataFrame(columns=["suite", "alpha", "mean", "std", "seeds"])
    out = frame.groupby(["suite", "alpha"], sort=False)["value"].agg(["mean", "std", "count"]).reset_index()
    return out.rename(columns={"count": "seeds"}).sort_values(["suite", "alpha"], kind="stable")


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


# -- RESULTS.md -----------------------------------------------------------------------------------

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
    return f"{int(r)}" + (f"/{int(n)}" if n else "")


def _md_table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    m = int(round(seconds / 60))
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else f"{m} min"


def render_results(report_dir, config: dict) -> str:
    """RESULTS.md's text from the committed files of ``report_dir`` alone."""
    report_dir = Path(report_dir)
    scores = pd.read_csv(report_dir / "scores.csv")
    datasets = pd.read_csv(report_dir / "dataset_statistics.csv")
    prov = json.loads((report_dir / "provenance.json").read_text())
    statistics = pd.read_csv(report_dir / "statistics.csv")
    ref = paper_reference()
    algos = report_algorithms(config)
    suites = list(config["suites"])
    ours, _ = build_table(scores, suites, algorithm_columns(algos))
    comp = comparison_rows(scores, config, ref)
    alpha = alpha_summary(scores, config)
    lengths = training_lengths(config, datasets)
    stages = {s["stage"]: s for s in prov["stages"]}
    final = scores[scores["is_final"]]
    n_runs = int(len(final))
    n_diverged = int((final["status"] == "diverged").sum())
    train = config["train"]
    seeds = sorted(final["seed"].unique())

    out = ["# Reference results", ""]
    total = stages["total"]
    out += [f"The `{config['profile']}` profile (`config/{config['profile']}.yaml`, `make reference`): "
            f"{sum(len(s['tasks']) * len(s['qualities']) for s in config['suites'].values())} cells, "
            f"{len(algos)} algorithms, {len(seeds)} seeds and Figure 1's alpha sweep; {n_runs} training runs "
            f"({n_diverged} diverged), run end to end (datasets included) in {_duration(total['wall_s'])} on "
            f"{prov['machine']['cores']} CPU cores ({prov['machine']['cpu']}), at commit `{prov['commit'][:12]}`.",
            "",
            "Every number on this page is read from the files beside it (`scores.csv`, "
            "`dataset_statistics.csv`, `statistics.csv`, `provenance.json`) by `analysis/reference_results.py`; "
            "`tests/test_reference_results.py` regenerates this page and the tables from them and requires "
            "identical files. SMAC numbers are win rates (%), MaMuJoCo numbers returns; mean ± std "
            f"(ddof 0, as the tables) over seeds of the last of {train['n_evals']} evaluations of "
            f"{train['eval_episodes']} episodes (the paper's statistic), unless said otherwise.", ""]

    # the main table beside the paper
    out += ["## The main table beside the paper", "",
            "Each cell: ours / the paper's (Tables 1-2; the paper's Table 3, MaMuJoCo, is not in our copy of "
            "the paper, so those rows have no paper numbers). **Bold**: the row's best here.", ""]
    rows = []
    for suite, task, quality in dict.fromkeys(zip(ours["suite"], ours["task"], ours["quality"])):
        o = ours[(ours["suite"] == suite) & (ours["task"] == task) & (ours["quality"] == quality)]
        p = _means(ref, suite, task, quality)
        om = _means(ours, suite, task, quality)
        best = max(om.values()) if om else None
        cells = []
        for a in algos:
            r = o[o["algorithm"] == a]
            mean, std = (float(r["mean"].iloc[0]), float(r["std"].iloc[0])) if len(r) else (math.nan, math.nan)
            txt = _num(mean, 1, std)
            if best is not None and not math.isnan(mean) and round(mean, 1) == round(best, 1):
                txt = f"**{txt}**"
            cells.append(txt + (f" / {_num(p[a])}" if a in p else ""))
        rows.append([get_task(task, suite).display, quality, *cells])
    out += [_md_table(["task", "quality", *algos], rows), ""]

    # ranks and agreement
    out += ["## ComaDICE's rank and the rank agreement", "",
            "Rank of ComaDICE among the algorithms of the row (1 = best; ties share the best rank), here on "
            f"the paper's statistic and on the {train['final_eval_episodes']}-episode final evaluation, and in the "
            "paper. "
            "A rank shared by every algorithm (all 0.0) is a tie, not a win. Kendall's tau-b "
            "compares our order of the algorithms with the paper's (1: same order, 0: unrelated, -1: "
            "reversed; – where either side is constant, e.g. all 0.0).", ""]
    rows = [[get_task(r.task, r.suite).display, r.quality, _rank(r.ours_rank, r.n_algorithms),
             _rank(r.ours_final_rank), _rank(r.paper_rank), r.ours_best if isinstance(r.ours_best, str) else "–",
             r.paper_best if isinstance(r.paper_best, str) else "–",
             _num(r.kendall_tau, 2)] for r in comp.itertuples()]
    out += [_md_table(["task", "quality", "ComaDICE rank (ours)", "(ours, final eval)", "(paper)",
                       "best (ours)", "best (paper)", "Kendall tau"], rows), ""]
    with_paper = comp.dropna(subset=["paper_comadice"])
    taus = with_paper["kendall_tau"].dropna()
    best_ours = int((comp["ours_best"] == FOCUS).sum())           # best alone, not tied
    best_ours_p = int((with_paper["ours_best"] == FOCUS).sum())
    best_paper = int((with_paper["paper_best"] == FOCUS).sum())
    tied = int(comp["ours_best"].astype(str).str.startswith("tie").sum())
    out += [f"- ComaDICE is best (alone) in {best_ours} of {len(comp)} rows here "
            f"({best_ours_p} of the {len(with_paper)} rows the paper has; the paper: {best_paper} of those "
            f"{len(with_paper)}, and " + ", ".join(f"{b} of {n} in Table {1 if s == 'smacv1' else 2}"
                                                 for s, (b, n) in PAPER_BEST_COUNTS.items()) + " overall)"
            + (f"; {tied} row(s) here are ties at the top." if tied else "."),
            f"- Kendall's tau-b over the {len(taus)} rows with a defined value: mean {_num(taus.mean(), 2)}"
            + (f" (per row from {_num(taus.min(), 2)} to {_num(taus.max(), 2)})." if len(taus) else "."), ""]

    # Figure 1
    if len(alpha):
        out += ["## Figure 1: ComaDICE against alpha", "", "![Figure 1](figure1_alpha.png)", "",
                "Mean over seeds of the mean over the suite's cells of the last evaluation; ± std over seeds.", ""]
        header = ["suite", *[f"alpha {a:g}" for a in sorted(alpha["alpha"].unique())], "peak"]
        rows = []
        for suite, g in alpha.groupby("suite", sort=False):
            d = 1 if get_metric(get_suite(suite).metric).scale else 0
            peak = g.loc[g["mean"].idxmax(), "alpha"]
            rows.append([get_suite(suite).title, *[_num(m, d, s) for m, s in zip(g["mean"], g["std"])],
                         f"alpha = {peak:g}"])
        out += [_md_table(header, rows), "", "The paper (Sec. 6.4, Figure 1): performance peaks near alpha = 10.", ""]

    # datasets and training length
    out += ["## Datasets", "",
            f"Made by the paper generator: a MAPPO learning run per task of {config['datasets']['mappo_env_steps']:,} "
            f"environment steps (the paper's data came from runs of 10M steps, Sec. 6.1), its checkpoints "
            "between the first and the best return giving the qualities (`datasets.smac_quality_fractions`; "
            "MaMuJoCo: D4RL's expert / medium / medium-replay). Behaviour return and win rate per dataset, "
            "beside the published dataset the paper trained on (`analysis/data/published_datasets.csv`, from the "
            "authors' `analyze.ipynb`: SMACv1 MADT's data via OMIGA, SMACv2 the authors' MAPPO run of 10M steps, "
            "MaMuJoCo OMIGA's HAPPO data; sizes as the notebook prints them, K = thousand). SMAX's reward is "
            f"normalised (a won episode returns at most {SMAC_MAX_RETURN['smax']:.1f}), SMAC's runs from 0 to "
            f"{PUBLISHED_SMAC_MAX_RETURN:g}: *of max* is each SMAC return as a fraction of its scale's maximum, "
            "and *ours / published* compares those fractions for SMAC, the returns themselves for MaMuJoCo "
            "(MuJoCo v5 robots here, v2 there: comparable in kind). No win rate is published; – where nothing is "
            "published (or nothing applies).", ""]
    rows = []
    for r in with_published(datasets).itertuples():
        d = 2 if get_suite(r.suite).dataset_kind == "smac" else 1
        rows.append([get_task(r.task, r.suite).display, r.quality, r.trajectories, f"{int(r.samples):,}",
                     _num(r.return_mean, d, r.return_std), _num(r.return_of_max, 2), _num(r.win_rate_pct, 1),
                     _kilo(r.published_trajectories), _kilo(r.published_transitions),
                     _num(r.published_return_mean, 1, r.published_return_std), _num(r.published_return_of_max, 2),
                     _num(r.ours_vs_published_pct, 0)])
    out += [_md_table(["task", "quality", "trajectories", "samples", "behaviour return", "of max",
                       "behaviour win rate (%)", "published trajectories", "published transitions",
                       "published return", "of max", "ours / published (%)"], rows), ""]
    out += ["## Training length", "",
            "The authors train for epochs of |D| / batch updates (vietbt/ComaDICE `run.py`; `config/config.yaml` "
            "`train.epochs`). This profile's updates against theirs on the same data:", ""]
    rows = [[get_task(r.task, r.suite).display, r.quality, f"{r.samples:,}", f"{r.updates:,}",
             f"{r.authors_epochs:g} epochs = {r.authors_updates:,}", f"{100 * r.fraction:.0f}%"]
            for r in lengths.itertuples()]
    out += [_md_table(["task", "quality", "samples", "updates here", "authors' updates", "fraction"], rows), ""]

    # statistics
    out += ["## Statistics beyond mean ± std", "",
            "Interquartile mean (IQM) of normalised scores (win rate / 100; MaMuJoCo returns min-max normalised "
            "per cell) with stratified-bootstrap 95% intervals over cells and seeds, and the probability that "
            "ComaDICE beats each algorithm (`statistics.csv`, `statistics.tex`; analysis/stats.py):", ""]
    rows = []
    for r in statistics.itertuples():
        p = getattr(r, "p_comadice_better_probability", math.nan)
        rows.append([get_suite(r.suite).title, r.algorithm, int(r.n_runs),
                     f"{r.iqm:.2f} [{r.iqm_low:.2f}, {r.iqm_high:.2f}]",
                     "–" if r.algorithm == FOCUS or p != p else
                     f"{p:.2f} [{r.p_comadice_better_low:.2f}, {r.p_comadice_better_high:.2f}]"])
    out += [_md_table(["suite", "algorithm", "runs", "IQM [95% CI]", "P(ComaDICE > X) [95% CI]"], rows), ""]

    # where and why
    frac = lengths["fraction"]
    smac = [s for s in suites if get_suite(s).dataset_kind == "smac"]
    backends = sorted(final[final["suite"].isin(smac)]["backend"].dropna().unique())
    out += ["## Where and why the numbers differ from the paper's", "",
            (f"- **Simulator.** SMACv1 and SMACv2 run on {', '.join(backends)}"
             + (": JaxMARL's SMAX, an approximation of StarCraft II (other unit statistics, no terrain, a "
                "heuristic enemy AI), not the game the paper used. Win rates, and which algorithm wins, are not "
                "expected to carry over number for number." if backends == ["smax"] else ".")),
            f"- **Data.** Our datasets come from short MAPPO runs ({config['datasets']['mappo_env_steps']:,} steps "
            "against the paper's 10M), so their behaviour policies are weaker and their spread of qualities "
            "narrower (table above); on a cell where the behaviour policy never wins, every method scores near 0 "
            "and the order of the algorithms is noise.",
            f"- **Budget.** Every run trains {int(train['n_updates']):,} updates "
            f"({100 * frac.min():.0f}%-{100 * frac.max():.0f}% of the authors' length, table above) and is "
            f"evaluated {train['n_evals']} times (the paper: 100); the paper's statistic is the last "
            "evaluation, so ours are earlier in training and noisier.",
            f"- **Seeds.** {len(seeds)} seeds per cell against the paper's 5.",
            "- **MaMuJoCo.** The paper's Table 3 is not in our copy of the paper, so the Hopper rows have no "
            "paper numbers and are left out of the rank agreement.", ""]

    # learning curves and files
    out += ["## Learning curves", ""]
    out += [f"- [{get_task(t, s).display} {q}](curves/{s}/{t}/{q}.png)"
            for s, t, q in dict.fromkeys(zip(datasets["suite"], datasets["task"], datasets["quality"]))]
    out += ["", "## Provenance", ""]
    m = prov["machine"]
    out += [f"- The training runs executed commit `{prov['commit']}`"
            + (" with uncommitted changes" if prov["commit_dirty"] else "")
            + f"; command `{prov['command']}`. The tables, figures and this page were rendered from their "
            f"scores by commit `{prov['report_commit']}` (the same scores.csv; `tests/test_reference_results.py`).",
            f"- Machine: {m['cores']} cores, {m['cpu']}, {m['memory_gb']} GB memory, no GPU; {m['os']}; "
            f"Python {m['python']}.",
            "- Software: " + ", ".join(f"{k} {v}" for k, v in prov["software"].items() if v) + ".", "",
            "Wall time per stage, from the Snakemake log. The stages overlap: Snakemake starts a cell's "
            "training runs as soon as its dataset exists and interleaves the other datasets' jobs, so a stage's "
            "span (its first start to its last end) is longer than the time its jobs were running (busy: the "
            "union of its jobs' intervals); job time is the jobs' summed time, one core each.", ""]
    rows = [[s["stage"], s["jobs"], s["unfinished_jobs"], s["start"].replace("T", " "), _duration(s["wall_s"]),
             _duration(s["busy_s"]), _duration(s["job_s"])] for s in prov["stages"]]
    out += [_md_table(["stage", "jobs", "unfinished", "started", "span", "busy", "job time"], rows), ""]
    return "\n".join(out)


def collect(config: dict, run_dir: Path, log: Path = None) -> Path:
    """Copy the run's scores, write provenance.json and RESULTS.md into reports/<profile>/."""
    paths = paths_for(config)
    report_dir = ROOT / paths.reports
    src = run_dir / paths.scores
    if src.resolve() != (report_dir / "scores.csv").resolve():
        shutil.copyfile(src, report_dir / "scores.csv")
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

"""The committed reference results: ``reports/reference/RESULTS.md``.

    python -m analysis.reference_results [--config config/reference.yaml] [--run-dir .]

After ``snakemake all_tables --configfile config/reference.yaml`` (``make reference``):

1. copies the run's ``results/<profile>/scores.csv`` into ``reports/<profile>/`` (the tables,
   figures and statistics are there already), so the committed folder holds the numbers
   every table is rendered from;
2. writes ``reports/<profile>/provenance.json`` (``pipeline/run_provenance.py``): the commit the
   run executed, the machine, the software versions and the wall time of each stage, read from
   the run's Snakemake log (``--log``, several in order when the run took several invocations;
   default: the newest log under ``<run-dir>/.snakemake/log`` that ran training jobs);
3. renders ``RESULTS.md`` from those committed files alone (``results_context`` computes every
   value and the rows of every table, ``reports/templates/RESULTS.md.j2`` holds the prose and
   lays the tables out), so that ``tests/test_reference_results.py`` can regenerate it and the
   tables and find them equal.

RESULTS.md sets the main tables beside the paper's numbers (Tables 1-2, and for MaMuJoCo the
numbers behind Table 3 from the authors' notebook, ``analysis/data/paper_table3_mamujoco.csv``),
ComaDICE's rank per row here and in the paper and Kendall's tau-b between our and the paper's
order of the methods (``analysis/paper_comparison.py``, as the paper-vs-ours table), Figure 1's
alpha sweep per suite and per cell beside the notebook's (``analysis/alpha_sweep.py``), the
datasets beside the published ones, the training length against the authors', the statistics
table and the provenance.  Every number in it is read from the files beside it.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd
import yaml

from analysis import markdown as md
from analysis.alpha_sweep import alpha_cells, alpha_summary, alpha_tables
from analysis.dataset_stats import PUBLISHED_SMAC_MAX_RETURN, SMAC_MAX_RETURN, with_published
from analysis.paper_comparison import FOCUS, cell_means, paper_comparison, paper_reference
from analysis.score_checks import ScoresError, check_scores
from analysis.score_tables import build_table
from analysis.training_length import LENGTH_COMPANIONS, length_comparison, length_tables, rank_over_training
from behaviour.qualities import MEDIUM_FRACTION
from envs.files import atomic_copy, atomic_write_text
from envs.registry import get_task
from envs.suites import get_suite
from pipeline.grid import training_length
from pipeline.paths import paths_for
from pipeline.report_plan import algorithm_columns, report_algorithms
from pipeline.run_provenance import provenance
from pipeline.snakemake_log import newest_training_log

ROOT = Path(__file__).resolve().parent.parent
#: the paper's grid: its ``train.epochs`` are the authors' training lengths (vietbt/ComaDICE run.py)
AUTHORS_CONFIG = ROOT / "config" / "config.yaml"
#: the paper's counts of rows where ComaDICE is best (Table 1: 11 of 12, Table 2: 14 of 15)
PAPER_BEST_COUNTS = {"smacv1": (11, 12), "smacv2": (14, 15)}


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



def grid_rows(config: dict) -> list:
    """The grid's (suite, task, quality) cells in the tables' order: what the main tables show,
    a cell without runs included (shown missing, never dropped)."""
    from analysis.score_tables import row_key
    cells = [(s, t, q) for s, spec in config["suites"].items() for t in spec["tasks"] for q in spec["qualities"]]
    return sorted(cells, key=lambda k: row_key(*k))



def _absent_runs(scores: pd.DataFrame, config: dict, algos: list) -> dict:
    """Per (suite, task, quality, algorithm) of the main tables: which seeds its mean lacks and why."""
    from analysis.score_tables import absent_seeds
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



def _behaviour_budgets(config: dict) -> str:
    """The behaviour runs' env steps per task, as the profile sets them (pipeline/costs.py)."""
    from pipeline.costs import d4rl_like_env_steps, smac_like_env_steps
    parts = []
    for suite, spec in config["suites"].items():
        for task in spec["tasks"]:
            if get_suite(suite).dataset_kind == "smac":
                steps = smac_like_env_steps(config, task)
            else:
                steps = d4rl_like_env_steps(config)
            parts.append(f"{get_task(task, suite).display} {steps / 1e6:g}M")
    return ", ".join(parts)



def _main_cell(row: pd.DataFrame, best, paper: dict, algo: str, n_seeds: int, why: str) -> tuple:
    """One cell of the main table ("mean ± std / paper's"; bold where the row's best) and what
    its mark says, if any: a diverged seed ("div. k/n", no number), fewer seeds than the grid's."""
    mean, std = (float(row["mean"].iloc[0]), float(row["std"].iloc[0])) if len(row) else (math.nan, math.nan)
    n = int(row["n_seeds"].iloc[0]) if len(row) else 0
    k = int(row["n_diverged"].iloc[0]) if len(row) and "n_diverged" in row else 0
    mark = None
    if k:
        txt = f"div. {k}/{k + n}"
        mark = f"{k} of {k + n} seeds diverged (no number is shown)"
    else:
        txt = md.num(mean, 1, std)
        if best is not None and math.isfinite(mean) and round(mean, 1) == round(best, 1):
            txt = f"**{txt}**"
        if n_seeds and 0 < n < n_seeds:
            txt += f" ({n} of {n_seeds} seeds)"
            mark = f"mean over {n} of {n_seeds} seeds" + (f" ({why})" if why else "")
    return txt + (f" / {md.num(paper[algo])}" if algo in paper else ""), mark


def _main_table(ours: pd.DataFrame, ref: pd.DataFrame, algos: list, n_seeds: int = None, absent: dict = None) -> tuple:
    """The main table (its rows) and its marks: a cell with fewer seeds than the grid's ``n_seeds``
    is shown with its count ("k of n seeds"), a diverged one as "div. k/n" (no number), a cell
    without runs as "–"; each mark is explained under the table, as the LaTeX tables' captions do."""
    rows, marks = [], []
    absent = absent or {}
    for suite, task, quality in dict.fromkeys(zip(ours["suite"], ours["task"], ours["quality"], strict=False)):
        o = ours[(ours["suite"] == suite) & (ours["task"] == task) & (ours["quality"] == quality)]
        p = cell_means(ref, suite, task, quality)
        om = {a: v for a, v in cell_means(ours, suite, task, quality).items() if math.isfinite(v)}
        best = max(om.values()) if om else None
        cells = []
        name = f"{get_task(task, suite).display} {quality}"
        if not om and not o["n_diverged"].fillna(0).astype(int).any():
            marks.append(f"{name}: no runs in the scores")
        for a in algos:
            txt, mark = _main_cell(o[o["algorithm"] == a], best, p, a, n_seeds, absent.get((suite, task, quality, a)))
            cells.append(txt)
            if mark:
                marks.append(f"{name} {a}: {mark}")
        rows.append([get_task(task, suite).display, quality, *cells])
    return md.table(["task", "quality", *algos], rows), marks


def _rank_table(comp: pd.DataFrame) -> dict:
    return md.table(["task", "quality", "ComaDICE rank (ours, all)", "(ours, the paper's methods)",
                     "(ours, final eval)", "(paper)", "best (ours)", "best (paper)", "Kendall tau"],
                    [[get_task(r.task, r.suite).display, r.quality, md.rank(r.ours_rank, r.ours_n_algorithms),
                      md.rank(r.ours_common_rank, r.n_common), md.rank(r.ours_final_rank),
                      md.rank(r.paper_rank, r.n_common), r.ours_best if isinstance(r.ours_best, str) else "–",
                      r.paper_best if isinstance(r.paper_best, str) else "–", md.num(r.kendall_tau, 2)]
                     for r in comp.itertuples()])


def _rank_summary(comp: pd.DataFrame) -> dict:
    with_paper = comp.dropna(subset=["paper_comadice"])
    taus = with_paper["kendall_tau"].dropna()
    by_suite = []
    for suite, g in with_paper.groupby("suite", sort=False):
        t = g["kendall_tau"].dropna()
        by_suite.append(f"{get_suite(suite).title} {md.num(t.mean(), 2)} over {len(t)}")
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
            "n_taus": len(taus), "tau_mean": md.num(taus.mean(), 2),
            "tau_min": md.num(taus.min(), 2) if len(taus) else "–",
            "tau_max": md.num(taus.max(), 2) if len(taus) else "–",
            "tau_by_suite": "; ".join(by_suite)}


def _dataset_table(datasets: pd.DataFrame) -> dict:
    rows = []
    for r in with_published(datasets).itertuples():
        d = 2 if get_suite(r.suite).dataset_kind == "smac" else 1
        rows.append([get_task(r.task, r.suite).display, r.quality, r.trajectories, f"{int(r.samples):,}",
                     md.num(r.return_mean, d, r.return_std), md.num(r.return_of_max, 2), md.num(r.win_rate_pct, 1),
                     md.kilo(r.published_trajectories), md.kilo(r.published_transitions),
                     md.num(r.published_return_mean, 1, r.published_return_std), md.num(r.published_return_of_max, 2),
                     md.num(r.ours_vs_published_pct, 0)])
    return md.table(["task", "quality", "trajectories", "samples", "behaviour return", "of max",
                     "behaviour win rate (%)", "published trajectories", "published transitions",
                     "published return", "of max", "ours / published (%)"], rows)


def _length_table(lengths: pd.DataFrame) -> dict:
    return md.table(["task", "quality", "samples", "updates here", "authors' updates", "fraction"],
                    [[get_task(r.task, r.suite).display, r.quality, f"{r.samples:,}", f"{r.updates:,}",
                      f"{r.authors_epochs:g} epochs = {r.authors_updates:,}", f"{100 * r.fraction:.0f}%"]
                     for r in lengths.itertuples()])


def _statistics_table(statistics: pd.DataFrame) -> dict:
    rows = []
    for r in statistics.itertuples():
        p = getattr(r, "p_comadice_better_probability", math.nan)
        left_out = getattr(r, "left_out", None)
        if isinstance(left_out, str):
            rows.append([get_suite(r.suite).title, r.algorithm, int(r.n_runs), f"– (left out: {left_out})", "–"])
            continue
        rows.append([get_suite(r.suite).title, r.algorithm, int(r.n_runs),
                     f"{r.iqm:.2f} [{r.iqm_low:.2f}, {r.iqm_high:.2f}]",
                     "–" if r.algorithm == FOCUS or p != p else
                     f"{p:.2f} [{r.p_comadice_better_low:.2f}, {r.p_comadice_better_high:.2f}]"])
    return md.table(["suite", "algorithm", "runs", "IQM [95% CI]", "P(ComaDICE > X) [95% CI]"], rows)


def _stage_table(prov: dict) -> dict:
    return md.table(["stage", "jobs", "unfinished", "started", "span", "busy", "job time"],
                    [[s["stage"], s["jobs"], s["unfinished_jobs"], s["start"].replace("T", " "),
                      md.duration(s["wall_s"]), md.duration(s["busy_s"]), md.duration(s["job_s"])]
                     for s in prov["stages"]])


def _empty_cells(ours: pd.DataFrame) -> tuple:
    """The cells the main table shows, and those without any run (none diverged either)."""
    shown = list(dict.fromkeys(zip(ours["suite"], ours["task"], ours["quality"], strict=False)))
    empty = []
    for s, t, q in shown:
        cell = ours[(ours["suite"] == s) & (ours["task"] == t) & (ours["quality"] == q)]
        if cell["n_seeds"].sum() == 0 and not cell["n_diverged"].sum():
            empty.append(f"{get_task(t, s).display} {q}")
    return shown, empty


def _run_summary(config: dict, scores: pd.DataFrame, ours: pd.DataFrame, prov: dict) -> dict:
    """The page's first paragraph: the cells, algorithms, seeds and runs, the time and the machine."""
    shown, empty = _empty_cells(ours)
    final = scores[scores["is_final"]]
    stages = {s["stage"]: s for s in prov["stages"]}
    return {"profile": config["profile"],
            "cells": f"{len(shown)} cells" + (f" ({len(empty)} without any run: {', '.join(empty)})" if empty else ""),
            "algorithms": report_algorithms(config), "n_seeds": len(final["seed"].unique()), "n_runs": int(len(final)),
            "n_diverged": int((final["status"] == "diverged").sum()),
            "make_target": config["profile"],
            "total_time": md.duration(stages["total"]["wall_s"]), "machine": prov["machine"], "prov": prov,
            "train": config["train"]}


def _paper_context(config: dict, scores: pd.DataFrame, ours: pd.DataFrame, ref: pd.DataFrame) -> dict:
    """The main table beside the paper, ComaDICE's ranks, Figure 1's sweep."""
    algos = report_algorithms(config)
    suites = list(config["suites"])
    paper_algos = {s: sorted(set(ref[ref["suite"] == s]["algorithm"]) & set(algos), key=algos.index)
                   for s in suites}
    comp = paper_comparison(scores, suites, algos, ref, rows=grid_rows(config), seeds=config.get("seeds"))
    main_table, main_marks = _main_table(ours, ref, algos, len(config["seeds"]), _absent_runs(scores, config, algos))
    return {"paper_algorithms": {get_suite(s).title: ", ".join(a) for s, a in paper_algos.items()},
            "missing_from_table3": ", ".join(a for a in algos if a not in paper_algos.get("mamujoco", algos)),
            "main_table": main_table, "main_marks": main_marks,
            "rank_table": _rank_table(comp), "ranks": _rank_summary(comp),
            "alpha": alpha_tables(alpha_summary(scores, config), alpha_cells(scores, config), config)}


def _data_context(config: dict, scores: pd.DataFrame, datasets: pd.DataFrame, statistics: pd.DataFrame,
                  prov: dict) -> dict:
    """The datasets, the training length, the statistics, the curves and the provenance."""
    lengths = training_lengths(config, datasets)
    final = scores[scores["is_final"]]
    smac = [s for s in config["suites"] if get_suite(s).dataset_kind == "smac"]
    frac = lengths["fraction"]
    return {
        "behaviour_budgets": _behaviour_budgets(config), "medium_fraction": f"{MEDIUM_FRACTION:g}",
        "smax_max_return": f"{SMAC_MAX_RETURN['smax']:.1f}", "published_smac_max": f"{PUBLISHED_SMAC_MAX_RETURN:g}",
        "dataset_table": _dataset_table(datasets), "length_table": _length_table(lengths),
        "fraction_range": (f"{100 * frac.min():.0f}%" if round(100 * frac.min()) == round(100 * frac.max())
                           else f"{100 * frac.min():.0f}%-{100 * frac.max():.0f}%"),
        "statistics_table": _statistics_table(statistics),
        "smac_backends": sorted(final[final["suite"].isin(smac)]["backend"].dropna().unique()),
        "curves": [(f"{get_task(t, s).display} {q}", f"curves/{s}/{t}/{q}.png")
                   for s, t, q in dict.fromkeys(zip(datasets["suite"], datasets["task"], datasets["quality"],
                                                    strict=False))],
        "software": ", ".join(f"{k} {v}" for k, v in prov["software"].items() if v),
        "stage_table": _stage_table(prov),
    }


def _length_context(report_dir: Path, config: dict, scores: pd.DataFrame, ref: pd.DataFrame) -> dict:
    """For a run at the authors' length: its ranks beside its shorter companion's
    (``LENGTH_COMPANIONS``, read from ``reports/<companion>/``) and ComaDICE's rank at each
    evaluation; for a shorter run: the runs at the authors' length set beside it."""
    rows = grid_rows(config)
    algos = report_algorithms(config)
    out = {"companion": None, "longer_runs": [], "rank_over_training": None}
    if config["train"].get("n_updates") is None:
        out["rank_over_training"] = rank_over_training(scores, rows, algos, ref)
    companion = LENGTH_COMPANIONS.get(config["profile"])
    companion_dir = report_dir.parent / companion if companion else None
    if companion_dir is not None and (companion_dir / "scores.csv").exists():
        short = read_scores(companion_dir / "scores.csv")
        comp = length_comparison(short, scores, list(config["suites"]), algos, ref, rows, config.get("seeds"))
        out["companion"] = {"profile": companion, **length_tables(comp)}
    out["longer_runs"] = [p for p, c in LENGTH_COMPANIONS.items()
                          if c == config["profile"] and (report_dir.parent / p / "RESULTS.md").exists()]
    return out


def results_context(report_dir, config: dict) -> dict:
    """Everything RESULTS.md shows, read from the committed files of ``report_dir`` alone."""
    report_dir = Path(report_dir)
    scores = read_scores(report_dir / "scores.csv")
    datasets = pd.read_csv(report_dir / "dataset_statistics.csv")
    prov = json.loads((report_dir / "provenance.json").read_text())
    statistics = pd.read_csv(report_dir / "statistics.csv")
    ref = paper_reference()
    ours, _ = build_table(scores, list(config["suites"]), algorithm_columns(report_algorithms(config)),
                          rows=grid_rows(config), seeds=config.get("seeds"))
    return {**_run_summary(config, scores, ours, prov), **_paper_context(config, scores, ours, ref),
            **_data_context(config, scores, datasets, statistics, prov),
            **_length_context(report_dir, config, scores, ref)}


def render_results(report_dir, config: dict) -> str:
    """RESULTS.md's text from the committed files of ``report_dir`` alone."""
    return md.environment().get_template("RESULTS.md.j2").render(**results_context(report_dir, config))


def collect(config: dict, run_dir: Path, logs: list = None, datasets_logs: list = ()) -> Path:
    """Copy the run's scores, write provenance.json and RESULTS.md into reports/<profile>/.
    ``logs``: the run's Snakemake logs in order (default: the newest with training jobs);
    ``datasets_logs``: earlier invocations whose datasets jobs the run kept (their training discarded)."""
    paths = paths_for(config)
    report_dir = ROOT / paths.reports
    src = run_dir / paths.scores
    if src.resolve() != (report_dir / "scores.csv").resolve():
        atomic_copy(src, report_dir / "scores.csv")
    prov = provenance(config, run_dir, logs or [newest_training_log(run_dir)], pd.read_csv(report_dir / "scores.csv"),
                      datasets_logs)
    atomic_write_text(report_dir / "provenance.json", json.dumps(prov, indent=2) + "\n")
    # the config the run executed, beside its results: config/reference.yaml may later size another run
    atomic_write_text(report_dir / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    atomic_write_text(report_dir / "RESULTS.md", render_results(report_dir, config))
    return report_dir / "RESULTS.md"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="config/reference.yaml")
    p.add_argument("--run-dir", default=".", help="the checkout the run happened in (its results/ and .snakemake/)")
    p.add_argument("--log", nargs="+", default=None,
                   help="the run's Snakemake log, or its logs in order when it took several invocations "
                        "(default: the newest with training jobs)")
    p.add_argument("--datasets-log", nargs="+", default=(),
                   help="earlier Snakemake logs of the run whose datasets jobs it kept and whose training it discarded")
    a = p.parse_args(argv)
    config = yaml.safe_load(Path(a.config).read_text())
    logs = [Path(p) for p in a.log] if a.log else None
    earlier = [Path(p) for p in a.datasets_log]
    print(f"wrote {collect(config, Path(a.run_dir).resolve(), logs, earlier)}")


if __name__ == "__main__":
    main()

"""The Snakemake pipeline end to end: validation, the paper's grid, reruns, the smoke profile."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SNAKEFILE = REPO / "Snakefile"
sys.path.insert(0, str(REPO))
from envs.suites import SUITES  # noqa: E402
from pipeline.grid import programs, runs, task_cells  # noqa: E402
from pipeline.paths import Paths  # noqa: E402

TEST = Paths("test")      # tiny_config's results/test, reports/test
SMOKE = Paths("smoke")


def snakemake(workdir, *args, config=None, check=True):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(workdir),
           "--cores", "2"]
    if config is not None:
        path = Path(workdir) / "test_config.yaml"
        path.write_text(yaml.safe_dump(config))
        cmd += ["--configfile", str(path)]
    proc = subprocess.run(cmd + list(args), capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def job_counts(output: str) -> dict:
    """Parse Snakemake's 'Job stats' table of a dry run."""
    counts = {}
    for line in output.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts


def tiny_config(**over):
    cfg = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    cfg.update(profile="test", suites={"smacv1": {"tasks": ["5m_vs_6m"], "qualities": ["medium"]}},
               algorithms=["BC", "ComaDICE"], seeds=[0, 1], ablations={})
    cfg["datasets"]["smac_like"]["episodes"] = 16
    cfg["train"].update(n_updates=20, n_evals=1, eval_episodes=4)
    cfg.update(over)
    return cfg


def test_paper_grid_dry_run_lists_every_task_quality_algorithm_and_seed(tmp_path):
    out = snakemake(tmp_path, "-n", "all_tables").stdout
    counts = job_counts(out)
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert counts["train"] == len(runs(cfg))  # every algorithm, ablation variant and seed of every cell
    # the same grid as training programs (a GPU's default): every run in one, 25 runs of a cell per job
    counts = job_counts(snakemake(tmp_path, "-n", "all_tables", "--config", "train={members: 25}").stdout)
    grid = runs(cfg)
    cfg["train"]["members"] = 25
    assert counts["train_program"] == len(programs(cfg, grid))
    assert sorted(r.id for p in programs(cfg, grid) for r in p.runs) == sorted(r.id for r in grid)
    cells = task_cells(cfg)                   # Tables 1-3: task x quality, a dataset each
    smac = [c for c in cells if SUITES[c[0]].dataset_kind == "smac"]
    d4rl = [c for c in cells if SUITES[c[0]].dataset_kind == "d4rl"]
    assert counts["smac_like_dataset"] == len(smac) and counts["d4rl_like_dataset"] == len(d4rl)
    # one behaviour run per task, whatever its qualities
    assert counts["smac_like_behaviour"] == len({c[:2] for c in smac})
    assert counts["d4rl_like_behaviour"] == len({c[:2] for c in d4rl})


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["suites"]["smacv1"].update(tasks=["5m_vs_7m"]), "unknown task '5m_vs_7m'"),
    (lambda c: c["suites"]["smacv1"].update(qualities=["expert"]), "no dataset quality 'expert'"),
    (lambda c: c.update(algorithms=["BC", "QMIX"]), "unknown algorithm 'QMIX'"),
    (lambda c: c.update(hyperparameters={"ComaDICE": {"alpha": -1}}), "alpha must be > 0"),
    (lambda c: c["train"].update(n_updates=0), "n_updates"),
    (lambda c: c["train"].update(device="tpu"), "device"),
    (lambda c: c.update(ablations={"suites": ["mamujoco"], "alpha": [1.0]}), "ablations.suites names 'mamujoco'"),
])
def test_bad_config_is_a_clear_error_before_any_job(tmp_path, edit, message):
    cfg = tiny_config()
    edit(cfg)
    proc = snakemake(tmp_path, "-n", config=cfg, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_a_failed_seed_is_the_only_job_rerun(tmp_path):
    failing = "smacv1/5m_vs_6m/medium/ComaDICE/default/seed1"
    proc = snakemake(tmp_path, "--keep-going", config=tiny_config(fail_runs=[failing]), check=False)
    assert proc.returncode != 0
    runs = tmp_path / TEST.run_dir("smacv1/5m_vs_6m/medium")
    assert (runs / "BC/default/seed0/metrics.json").exists()
    assert (runs / "BC/default/seed1/metrics.json").exists()
    assert (runs / "ComaDICE/default/seed0/metrics.json").exists()
    assert not (runs / "ComaDICE/default/seed1/metrics.json").exists()  # nothing that would be counted

    # the next invocation (the cause fixed) reruns that seed alone, then the reports
    fixed = tiny_config()
    counts = job_counts(snakemake(tmp_path, "-n", config=fixed).stdout)
    assert counts.get("train") == 1 and "smac_like_dataset" not in counts
    snakemake(tmp_path, config=fixed)
    table = (tmp_path / TEST.report("table1_smacv1.tex")).read_text()
    assert "ComaDICE" in table and "--" not in table.split("midrule")[1]

    # execution settings are not results: other threads or another device rerun nothing
    for override in ("train={threads: 2}", "train={device: auto}"):
        proc = snakemake(tmp_path, "-n", "--config", override, config=fixed)
        assert "Nothing to be done" in proc.stdout + proc.stderr, override
    # a setting that changes results does rerun the runs (params changed)
    counts = job_counts(snakemake(tmp_path, "-n", "--config", "train={eval_episodes: 5}", config=fixed).stdout)
    assert counts.get("train") == 4


def test_profiles_have_separate_results_and_reports():
    paper, smoke = Paths("paper"), Paths("smoke")
    for a, b in [(paper.dataset("smacv1", "5m_vs_6m", "good"), smoke.dataset("smacv1", "5m_vs_6m", "good")),
                 (paper.metrics("smacv1/5m_vs_6m/good/BC/default/seed0"),
                  smoke.metrics("smacv1/5m_vs_6m/good/BC/default/seed0")),
                 (paper.scores, smoke.scores), (paper.report("table1_smacv1.tex"), smoke.report("table1_smacv1.tex")),
                 (paper.log("train", "x"), smoke.log("train", "x"))]:
        assert a != b and "/paper/" in a and "/smoke/" in b


def test_config_overrides_compose_with_the_default_config(tmp_path):
    """--config on the paper grid (no --configfile): merged into config/config.yaml, nested keys typed."""
    target = Paths("paper").dataset("smacv1", "5m_vs_6m", "good")
    proc = snakemake(tmp_path, "-n", target, "--config", "train={n_evals: 5, device: cpu}")
    assert "smac_like_dataset" in job_counts(proc.stdout)
    proc = snakemake(tmp_path, "-n", target, "--config", "train={n_evals: 0}", check=False)
    assert proc.returncode != 0 and "n_evals" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_smoke_profile_end_to_end(tmp_path):
    cfg = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    snakemake(tmp_path, "all_tables", "--configfile", str(REPO / "config" / "smoke.yaml"))
    scores = pd.read_csv(tmp_path / SMOKE.scores)
    final = scores[scores.is_final]
    assert len(final) == len(runs(cfg))  # every run happened
    assert final["return_mean"].notna().all() and (final["updates_per_s"] > 0).all()
    reports = tmp_path / SMOKE.reports
    for name in [SUITES[s].table for s in cfg["suites"]] + ["ablation_fdiv", "ablation_mixer"]:
        tex = (reports / f"{name}.tex").read_text()
        assert "\\toprule" in tex and "--" not in tex.split("\\midrule")[1]
        table = pd.read_csv(reports / f"{name}.csv")
        assert table["mean"].notna().all()
    assert set(pd.read_csv(reports / "table1_smacv1.csv")["algorithm"]) == set(cfg["algorithms"])
    for name in ("figure1_alpha.pdf", "figure1_alpha.png", "statistics.tex", "paper_vs_ours.tex",
                 "table1_smacv1_returns.tex", "table1_smacv1_final_eval.tex", "latex_check.txt", "marl_eval.json",
                 *(f"performance_profile_{s}.png" for s in cfg["suites"])):
        assert (reports / name).stat().st_size > 0, name
    # the HTML report of every table and figure
    snakemake(tmp_path, "all_tables", "--configfile", str(REPO / "config" / "smoke.yaml"),
              "--report", str(reports / "report.html"))
    assert (reports / "report.html").stat().st_size > 10_000


@pytest.mark.slow
def test_a_deleted_metrics_json_reruns_that_run_alone(tmp_path):
    """all_tables asks for every run's metrics.json, so deleting one (behind an up-to-date
    scores.csv) schedules that run's train job and the reports, nothing else; result files are
    written with ordinary modes (0644 under the usual umask)."""
    def train_outputs(out):
        return [o.split(",")[0].strip() for o in re.findall(r"rule train:.*?output: ([^\n]*)", out, flags=re.S)]

    cfg = tiny_config()
    snakemake(tmp_path, config=cfg)
    # nothing to do, unless the code of some runs changed while this test ran (they rerun too)
    before = train_outputs(snakemake(tmp_path, "-n", config=cfg).stdout)
    umask = os.umask(0)
    os.umask(umask)
    mode = 0o666 & ~umask
    for rel in (TEST.scores, TEST.metrics("smacv1/5m_vs_6m/medium/BC/default/seed1"),
                TEST.report("table1_smacv1.tex"), TEST.report("statistics.csv"), TEST.report("latex_check.txt")):
        assert (tmp_path / rel).stat().st_mode & 0o777 == mode, rel
    run = "smacv1/5m_vs_6m/medium/ComaDICE/default/seed0"
    (tmp_path / TEST.metrics(run)).unlink()
    out = snakemake(tmp_path, "-n", config=cfg).stdout
    counts = job_counts(out)
    assert sorted(train_outputs(out)) == sorted(set(before) | {TEST.metrics(run)}), out
    assert counts.get("aggregate") == 1, counts
    assert not {k for k in counts if "dataset" in k or "behaviour" in k}, counts

"""The cluster profile (profiles/slurm) and the per-rule resources, by dry runs."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(REPO))
from pipeline.costs import train_runtime  # noqa: E402
from pipeline.grid import programs, runs  # noqa: E402


def dry_run(*args, cwd=REPO):
    cmd = [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", *args]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.mark.skipif(importlib.util.find_spec("snakemake_executor_plugin_slurm") is None,
                    reason="snakemake-executor-plugin-slurm is not installed (pip install -e .[test])")
def test_slurm_profile_dry_run_of_the_paper_grid():
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())  # the paper's grid
    out = dry_run("--profile", "profiles/slurm", "all_tables", "--config", "train={members: 25}")
    cfg["train"]["members"] = 25                                        # 25 runs of a cell per job
    n_programs = len(programs(cfg, runs(cfg)))
    assert re.search(rf"^train_program\s+{n_programs}$", out, flags=re.M), out[-3000:]


def test_every_rule_declares_runtime_and_memory():
    text = "".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    for block in text.split("\nrule ")[1:] + text.split("    rule ")[1:]:
        name = block.split(":")[0]
        assert "runtime=" in block and "mem_mb=" in block, name


def test_training_runtime_grows_with_the_work():
    cfg = {"train": {"n_updates": 1000, "batch_size": 128, "n_evals": 10, "eval_episodes": 32,
                     "final_eval_episodes": 0}}
    small = train_runtime(cfg, "smacv1", "5m_vs_6m")
    cfg["train"]["n_updates"] = 300_000
    assert train_runtime(cfg, "smacv1", "5m_vs_6m") > small >= 10

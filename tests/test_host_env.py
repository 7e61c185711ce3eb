"""The job graph builds on a host with only what the README names: Snakemake, PyYAML, JAX and
PyTorch (CPU wheels) in a fresh virtual environment, no project install, no simulator stack
(mujoco, jaxmarl, h5py)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.grid import members_per_program, programs, runs

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_fresh_host_venv_dry_runs_the_paper_grid(tmp_path):
    venv = tmp_path / "host"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # the Makefile passes its own pin (torch==2.13.0, the CPU wheel): plain "torch" may resolve to a CUDA build
    torch = os.environ.get("COMADICE_HOST_TORCH", "torch")
    pip = subprocess.run([str(py), "-m", "pip", "install", "-q", "snakemake>=8", "pyyaml", "jax==0.10.2", torch],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        pytest.skip(f"cannot install the host packages here: {pip.stderr[-500:]}")
    probe = subprocess.run([str(py), "-c", "import mujoco"], capture_output=True)
    assert probe.returncode != 0  # the host has no simulator stack
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run([str(venv / "bin" / "snakemake"), "-n", "--quiet", "rules", "--cores", "1",
                           "--snakefile", str(REPO / "Snakefile"), "--directory", str(work),
                           "all_tables"], capture_output=True, text=True, env={**env, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    # train.members auto: one run per job on a machine without a GPU, 25 runs of a cell on one with
    if members_per_program(config) == 1:
        expected = rf"^train\s+{len(runs(config))}$"
    else:
        expected = rf"^train_program\s+{len(programs(config, runs(config)))}$"
    assert re.search(expected, proc.stdout + proc.stderr, re.M), "the job graph lacks the paper's runs"

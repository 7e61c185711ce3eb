"""Stale data noticed: a run records the checksum of the dataset it trained on; a run
whose dataset has since been replaced (regenerated, imported over, even keeping an older
modification time, or while it trained) is named and retrained by the workflow, never aggregated
into a table of data that no longer exist."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analysis.aggregate import AggregationError, aggregate
from envs.dataset import file_sha256
from pipeline.stale_runs import DatasetChecksums, set_aside_stale_runs, stale_runs

REPO = Path(__file__).resolve().parent.parent


def _run(root: Path, dataset: Path, suite="mamujoco", task="Hopper_3x1", quality="expert", algorithm="BC",
         seed=0) -> Path:
    d = root / "runs" / suite / task / quality / algorithm / "default" / f"seed{seed}"
    d.mkdir(parents=True)
    m = {"schema_version": 2, "suite": suite, "task": task, "quality": quality, "algorithm": algorithm,
         "variant": "default", "seed": seed, "status": "ok", "dataset_sha256": file_sha256(dataset),
         "win_rate": None, "return_mean": 10.0}
    (d / "metrics.json").write_text(json.dumps(m))
    (d / "curve.csv").write_text("step,win_rate,return_mean\n5,,9.0\n10,,10.0\n")
    return d / "metrics.json"


def _replace_keeping_mtime(path: Path, data: bytes) -> None:
    """A dataset imported over with its modification time kept (``cp -p``, ``rsync -t``)."""
    st = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 10**12))


def test_a_run_of_a_replaced_dataset_is_stale_and_named(tmp_path):
    ds = tmp_path / "datasets" / "expert.h5"
    ds.parent.mkdir()
    ds.write_bytes(b"old data")
    metrics = _run(tmp_path, ds)
    assert stale_runs([(metrics, ds)]) == []
    _replace_keeping_mtime(ds, b"new data")
    [stale] = stale_runs([(metrics, ds)])
    assert stale.current == file_sha256(ds) and str(metrics.parent) in stale.describe()
    lines = []
    set_aside_stale_runs([(metrics, ds)], log=lines.append)
    assert not metrics.exists() and len(list(metrics.parent.glob("metrics.json.stale-*"))) == 1
    assert "stale run" in lines[0] and "seed0" in lines[0]


def test_the_checksum_cache_notices_a_replaced_file(tmp_path):
    ds, cache = tmp_path / "d.h5", tmp_path / "cache.json"
    ds.write_bytes(b"one")
    sums = DatasetChecksums(cache)
    assert sums(ds) == file_sha256(ds)
    sums.save()
    _replace_keeping_mtime(ds, b"two")  # same size, older mtime: inode change time still moves
    assert DatasetChecksums(cache)(ds) == file_sha256(ds)


def test_aggregation_refuses_a_single_algorithm_cell_of_replaced_data(tmp_path):
    """One algorithm in the cell: no mix of checksums to notice; the file at the path decides."""
    ds = tmp_path / "datasets" / "expert.h5"
    ds.parent.mkdir()
    ds.write_bytes(b"old data")
    metrics = _run(tmp_path, ds)
    assert len(aggregate([metrics], datasets=lambda p: ds)) == 2
    _replace_keeping_mtime(ds, b"new data")
    with pytest.raises(AggregationError, match=r"1 run\(s\) trained on a dataset that is no longer at its path: "
                                               r".*BC/default/seed0"):
        aggregate([metrics], datasets=lambda p: ds)
    assert not metrics.exists()  # set aside: the next invocation retrains it


def _tiny_config():
    cfg = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    cfg.update(profile="test", suites={"smacv1": {"tasks": ["5m_vs_6m"], "qualities": ["medium"]}},
               algorithms=["BC"], seeds=[0], ablations={})
    return cfg


def test_the_workflow_retrains_a_run_whose_dataset_was_imported_over(tmp_path):
    """A dataset replaced by a copy with an older modification time: Snakemake's own triggers see
    nothing; the workflow names the run and plans to train it again."""
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(_tiny_config()))
    ds = tmp_path / "results/test/datasets/smacv1/5m_vs_6m/medium.h5"
    ds.parent.mkdir(parents=True)
    ds.write_bytes(b"old data")
    metrics = _run(tmp_path / "results/test", ds, suite="smacv1", task="5m_vs_6m", quality="medium")
    target = str(metrics.relative_to(tmp_path))

    def dry_run():
        return subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                               "--directory", str(tmp_path), "--cores", "1", "-n", target,
                               "--configfile", str(tmp_path / "cfg.yaml")],
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
                              timeout=600)

    proc = dry_run()
    assert proc.returncode == 0 and "rule train:" not in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    _replace_keeping_mtime(ds, b"new data")
    proc = dry_run()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "stale run: results/test/runs/smacv1/5m_vs_6m/medium/BC/default/seed0" in out, out[-3000:]
    assert "rule train:" in out, out[-3000:]

"""Training programs in the pipeline (train.members > 1): the runs of a cell trained together,
each run still its own result, and a rerun trains exactly the runs without one."""
import json
from pathlib import Path

import pytest

from pipeline.grid import Program, members_per_program, program_schedule, programs, runs
from tests.test_pipeline import TEST, snakemake, tiny_config

RUN = "smacv1/5m_vs_6m/medium/BC/default/seed{}"
PROGRAM_LOG = "logs/test/train/smacv1/5m_vs_6m/medium/BC/program{}.log"


def _config(seeds, **over):
    cfg = tiny_config(algorithms=["BC"], seeds=list(seeds), **over)
    cfg["train"].update(members=3, n_updates=20, n_evals=2, device="cpu")
    return cfg


def test_members_default_by_device_and_programs_cut_by_size():
    cfg = _config([0, 1, 2, 3])
    assert members_per_program(cfg) == 3
    progs = programs(cfg, runs(cfg))
    assert [(p.index, [r.seed for r in p.runs]) for p in progs] == [(0, [0, 1, 2]), (1, [3])]
    assert isinstance(progs[0], Program) and progs[1].id == "smacv1/5m_vs_6m/medium/BC/program1"
    cfg["train"]["members"] = "auto"
    assert members_per_program(cfg, gpu=True) == 1  # device cpu
    cfg["train"]["device"] = "auto"
    assert members_per_program(cfg, gpu=True) == 25 and members_per_program(cfg, gpu=False) == 1


@pytest.mark.slow
def test_a_rerun_trains_exactly_the_runs_without_a_result(tmp_path):
    metrics = lambda seed: tmp_path / TEST.metrics(RUN.format(seed))
    # a job that dies before seed 1's result: seed 0's stays, seeds 1 and 2 have none
    proc = snakemake(tmp_path, "--keep-going", config=_config([0, 1, 2], fail_runs=[RUN.format(1)]), check=False)
    assert proc.returncode != 0
    assert metrics(0).exists() and not metrics(1).exists() and not metrics(2).exists()
    first = metrics(0).stat().st_mtime_ns
    # the rerun trains seeds 1 and 2 alone, each resumed from its own state at the first evaluation
    snakemake(tmp_path, config=_config([0, 1, 2]))
    log = (tmp_path / PROGRAM_LOG.format(0)).read_text()
    assert "training 2 runs as one program" in log and f"{RUN.format(0)}" in log.split("training 2 runs")[0]
    assert log.count("resumed at step 10") == 2, log
    assert metrics(0).stat().st_mtime_ns == first
    # one result deleted: that run alone
    kept = {s: metrics(s).stat().st_mtime_ns for s in (0, 1)}
    metrics(2).unlink()
    snakemake(tmp_path, config=_config([0, 1, 2]))
    assert metrics(2).exists() and {s: metrics(s).stat().st_mtime_ns for s in (0, 1)} == kept
    assert "training 1 runs as one program: " + RUN.format(2) in (tmp_path / PROGRAM_LOG.format(0)).read_text()
    # a seed added: a new program for it; the others are not trained again
    kept = {s: metrics(s).stat().st_mtime_ns for s in (0, 1, 2)}
    snakemake(tmp_path, config=_config([0, 1, 2, 3]))
    assert metrics(3).exists() and {s: metrics(s).stat().st_mtime_ns for s in (0, 1, 2)} == kept
    record = json.loads((tmp_path / TEST.program("smacv1/5m_vs_6m/medium/BC/program1")).read_text())
    assert record["trained_by_this_job"] == [RUN.format(3)] and record["status"] == {RUN.format(3): "ok"}
    # a finished grid schedules no training job
    dry = snakemake(tmp_path, "-n", config=_config([0, 1, 2, 3]))
    assert "train_program" not in dry.stdout + dry.stderr, dry.stdout
    # the result of a run its program's last job trained alone, deleted: trained again
    kept = {s: metrics(s).stat().st_mtime_ns for s in (0, 1, 2)}
    metrics(3).unlink()
    snakemake(tmp_path, config=_config([0, 1, 2, 3]))
    assert metrics(3).exists() and {s: metrics(s).stat().st_mtime_ns for s in (0, 1, 2)} == kept
    schedule = json.loads((tmp_path / TEST.program_schedule("smacv1/5m_vs_6m/medium/BC/program1")).read_text())
    assert schedule == {"runs": [RUN.format(3)], "generation": 2}


def test_a_program_is_scheduled_exactly_while_a_run_has_no_result(tmp_path):
    """pipeline/grid.py program_schedule, the training job's param: it differs from the value the
    program's last job ran with (and recorded) exactly when a run has no result."""
    from types import SimpleNamespace

    rs = [SimpleNamespace(id=f"run{i}", metrics=str(tmp_path / f"run{i}.json")) for i in range(3)]
    prog = SimpleNamespace(runs=rs)
    schedule_file = tmp_path / "program.schedule.json"

    def job():  # what the job does: trains the runs without a result, records its schedule
        value = program_schedule(prog, schedule_file)
        for r in rs:
            Path(r.metrics).touch()
        schedule_file.write_text(json.dumps(value))
        return value

    first = job()
    assert first == {"runs": ["run0", "run1", "run2"], "generation": 1}
    assert program_schedule(prog, schedule_file) == first          # finished: the same value, no job
    Path(rs[1].metrics).unlink()
    assert program_schedule(prog, schedule_file) == {"runs": ["run1"], "generation": 2}
    second = job()
    assert program_schedule(prog, schedule_file) == second
    Path(rs[1].metrics).unlink()                             # the same run again: a new value
    assert program_schedule(prog, schedule_file) == {"runs": ["run1"], "generation": 3} != second
    schedule_file.write_text("{ damaged")                           # an unreadable file: a job
    assert program_schedule(prog, schedule_file) == {"runs": ["run1"], "generation": 1}
    Path(rs[1].metrics).touch()
    schedule_file.unlink()
    assert program_schedule(prog, schedule_file) == {"runs": [], "generation": 1}

"""Issue 20: nothing runs from a data file, nothing resumes into other code or a state that does
not fit, and a full disk is named as such.

- the MaMuJoCo behaviour run (``run.pt``) is read by the restricted loader: a crafted file is
  refused naming it, and the code it carries never runs;
- ``resume.pt`` records the code version and the configuration: a state of another one is set
  aside and the run restarts, saying why;
- a resume state that cannot be used (no fingerprint, tensors that do not fit, a directory, a
  truncated file) is set aside (renamed, not deleted) and the run restarts, for the offline
  training runs and the behaviour learners alike;
- a write that fails for want of space (ENOSPC, a file-size limit) says the disk is full and
  where, and leaves nothing truncated behind.
"""
import errno
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from behaviour.d4rl_like.ars import train_ars
from behaviour.d4rl_like.datasets import mamujoco_from_ars
from envs.dataset import write_dataset
from envs.registry import get_task
from envs.resume import load_resume, resume_path, save_resume
from harness.train import RESUME_FILE, RunConfig, train
from tests.test_train_loop import fail_after_evals

HOPPER = get_task("mamujoco/Hopper_3x1")
ROOT = Path(__file__).resolve().parents[1]


class _Boom:
    """Unpickled, it would create the marker file: the way a crafted pickle runs code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def ars_run():
    return train_ars(HOPPER, iterations=2, directions=2, top=1, seed=0, log=lambda s: None)


@pytest.fixture(scope="module")
def hopper_dataset(tmp_path_factory, ars_run):
    path = tmp_path_factory.mktemp("data") / "medium-replay.h5"
    write_dataset(mamujoco_from_ars(HOPPER, "medium-replay", ars_run, n_episodes=2, seed=0), path)
    return str(path)


# -- 1. behaviour runs: no pickle.load ---------------------------------------------------------

def test_a_behaviour_run_round_trips_through_the_safe_format(tmp_path, ars_run):
    from analysis.behaviour_curves import run_curve
    from behaviour.d4rl_like.run_file import load_behaviour_run, save_behaviour_run

    path = tmp_path / "run.pt"
    save_behaviour_run({**ars_run, "kind": "ars"}, path)
    back = load_behaviour_run(path)
    assert back["kind"] == "ars" and len(back["checkpoints"]) == len(ars_run["checkpoints"])
    np.testing.assert_array_equal(back["checkpoints"][-1]["weights"], ars_run["checkpoints"][-1]["weights"])
    assert run_curve(back).equals(run_curve({**ars_run, "kind": "ars"}))


@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_a_crafted_behaviour_run_is_refused_and_runs_nothing(tmp_path, writer):
    from behaviour.d4rl_like.run_file import load_behaviour_run

    marker = tmp_path / "code_ran"
    bad = tmp_path / "run.pt"
    payload = {"kind": "mappo", "checkpoints": [{"iteration": 0}], "curve": _Boom(marker)}
    if writer == "torch":
        torch.save(payload, bad)
    else:  # the old run.pkl format, put where the rule reads its input
        bad.write_bytes(pickle.dumps(payload))
    with pytest.raises(ValueError, match=str(bad)) as err:
        load_behaviour_run(bad)
    assert not marker.exists()
    assert "could run code" in str(err.value) or "not a readable" in str(err.value)


def test_no_project_code_reads_a_pickle():
    """Every ``pickle.load(s)`` outside the tests is gone: run files are read by restricted loaders."""
    hits = []
    for d in ("envs", "algorithms", "behaviour", "harness", "analysis", "workflow", "benchmarks"):
        for p in (ROOT / d).rglob("*.py"):
            text = p.read_text()
            if "pickle.load(" in text or "pickle.loads(" in text or "allow_pickle=True" in text:
                hits.append(str(p.relative_to(ROOT)))
    assert not hits, hits
    assert (ROOT / "pipeline/paths.py").read_text().count("run.pt\"") == 1


# -- 2 and 3. resume.pt: code version, configuration, unusable states --------------------------

def _base(dataset, **kw):
    return dict(dataset=dataset, algorithm="BC", seed=0, n_updates=8, n_evals=4, eval_episodes=2,
                hyperparameters={"hidden": 16}, device="cpu", **kw)


def _interrupted(tmp_path, dataset):
    with pytest.raises(RuntimeError, match="fail after 1 evaluations"):
        train(RunConfig(**_base(dataset)), tmp_path, log=lambda s: None,
              hooks=fail_after_evals(1, _base(dataset)["n_updates"]))
    assert (tmp_path / RESUME_FILE).is_file()


def _set_aside(run_dir):
    return sorted(p.name for p in Path(run_dir).iterdir() if p.name.startswith(f"{RESUME_FILE}.unusable-"))


def test_resume_pt_records_the_code_version(tmp_path, hopper_dataset):
    _interrupted(tmp_path, hopper_dataset)
    saved = torch.load(tmp_path / RESUME_FILE, weights_only=False)
    from harness.provenance import code_version
    assert saved["fingerprint"]["code_version"] == code_version("BC")["sources_sha256"]
    assert saved["fingerprint"]["hyperparameters"]["hidden"] == 16


def test_a_resume_state_of_other_code_is_not_used(tmp_path, hopper_dataset, monkeypatch):
    import harness.train as ht

    _interrupted(tmp_path, hopper_dataset)
    real = ht._code_version
    monkeypatch.setattr(ht, "_code_version", lambda a: {**real(a), "sources_sha256": "0" * 64})  # the learner changed
    lines = []
    metrics = train(RunConfig(**_base(hopper_dataset)), tmp_path, log=lines.append)
    assert any(f"{tmp_path / RESUME_FILE}: resume state of a different code version (differs in code_version)"
               in s for s in lines), lines
    assert not any("resumed at" in s for s in lines)
    assert metrics["status"] == "ok" and metrics["code_version"]["sources_sha256"] == "0" * 64
    assert len(_set_aside(tmp_path)) == 1 and not (tmp_path / RESUME_FILE).exists()


def _unusable(kind, path: Path):
    saved = torch.load(path, weights_only=False)
    if kind == "no fingerprint":
        del saved["fingerprint"]
        torch.save(saved, path)
    elif kind == "tensors that do not fit":
        params = saved["state"]["train_state"]["params"]
        saved["state"]["train_state"]["params"] = {k: np.zeros((3, 3), np.float32) for k in params}
        torch.save(saved, path)
    elif kind == "a directory":
        path.unlink()
        path.mkdir()
        (path / "x").write_text("x")
    elif kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "garbage":
        path.write_bytes(b"\x80\x04garbage not a zip")


REASONS = {"no fingerprint": "no fingerprint recorded", "tensors that do not fit": "does not fit the run",
           "a directory": "a directory", "truncated": "unusable resume state", "garbage": "unusable resume state"}


@pytest.mark.parametrize("kind", list(REASONS))
def test_an_unusable_resume_pt_is_set_aside_and_the_run_restarts(tmp_path, hopper_dataset, kind):
    clean = train(RunConfig(**_base(hopper_dataset)), tmp_path / "clean", log=lambda s: None)
    run_dir = tmp_path / "run"
    _interrupted(run_dir, hopper_dataset)
    _unusable(kind, run_dir / RESUME_FILE)
    lines = []
    metrics = train(RunConfig(**_base(hopper_dataset)), run_dir, log=lines.append)
    said = [s for s in lines if str(run_dir / RESUME_FILE) in s and "set aside as" in s]
    assert said and REASONS[kind] in said[0], lines
    assert not any("resumed at" in s for s in lines)
    aside = _set_aside(run_dir)
    assert len(aside) == 1 and said[0].endswith(f"set aside as {aside[0]}, restarting from scratch")
    assert not (run_dir / RESUME_FILE).exists()
    # the restarted run is the uninterrupted one, number for number
    assert metrics["return_mean"] == clean["return_mean"]
    assert (run_dir / "curve.csv").read_text() == (tmp_path / "clean" / "curve.csv").read_text()


@pytest.mark.parametrize("kind", ["a directory", "policy of another shape", "no fingerprint"])
def test_an_unusable_behaviour_resume_file_is_set_aside(tmp_path, kind):
    args = dict(iterations=2, directions=1, top=1, seed=5)
    resume = resume_path(tmp_path / "run.pt")
    if kind == "a directory":
        resume.mkdir()
    else:
        class Killed(Exception):
            pass

        def kill(line):
            if "iteration 1:" in line:
                raise Killed(line)
        with pytest.raises(Killed):
            train_ars(HOPPER, **args, log=kill, resume_file=resume)
        saved = torch.load(resume, weights_only=False)
        if kind == "no fingerprint":
            del saved["fingerprint"]
        else:
            saved["state"]["M"] = np.zeros((2, 2))
        torch.save(saved, resume)
    lines = []
    run = train_ars(HOPPER, **args, log=lines.append, resume_file=resume)
    assert any(str(resume) in s and "set aside as" in s for s in lines), lines
    assert not any("resumed at" in s for s in lines)
    assert len(run["checkpoints"]) == 3
    assert len([p for p in tmp_path.iterdir() if ".unusable-" in p.name]) == 1


def test_load_resume_sets_a_state_of_another_configuration_aside(tmp_path):
    path = tmp_path / "x.resume"
    save_resume(path, {"seed": 1}, {"iteration": 3})
    lines = []
    assert load_resume(path, {"seed": 2}, lines.append) is None
    assert "different configuration (differs in seed)" in lines[0] and not path.exists()
    assert len(list(tmp_path.glob("x.resume.unusable-*"))) == 1


# -- 7. a full disk ----------------------------------------------------------------------------

def test_a_full_disk_is_named_and_leaves_nothing_truncated(tmp_path, monkeypatch):
    import builtins

    from envs.files import DiskFullError, atomic_write_text, save_tensors

    target = tmp_path / "metrics.json"
    atomic_write_text(target, '{"old": 1}')
    real_open = builtins.open

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, k):
            return getattr(self.f, k)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    def full_open(file, mode="r", *a, **kw):
        f = real_open(file, mode, *a, **kw)
        return Full(f) if "w" in mode and str(tmp_path) in str(file) else f

    monkeypatch.setattr(builtins, "open", full_open)
    with pytest.raises(DiskFullError, match="the disk is full") as err:
        atomic_write_text(target, json.dumps({"new": list(range(100))}))
    assert str(target) in str(err.value) and str(tmp_path) in str(err.value)
    with pytest.raises(DiskFullError, match="resume.pt: not written, the disk is full"):
        save_tensors(tmp_path / "resume.pt", {"x": torch.zeros(10)})
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"old": 1}  # the previous file, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # no temporary file left


@pytest.mark.parametrize("what", ["torch", "text", "hdf5"])
def test_a_file_size_limit_is_reported_as_a_full_disk(tmp_path, what):
    """With ``ulimit -f`` (RLIMIT_FSIZE) a write past the limit raises EFBIG instead of killing the
    process with SIGXFSZ (ignored by envs.files), and torch's ``unexpected pos`` is not the message."""
    code = textwrap.dedent(f"""
        import resource, sys
        from pathlib import Path
        import numpy as np
        from envs.files import DiskFullError, atomic_write_text, save_tensors
        out = Path(sys.argv[1])
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        try:
            if {what!r} == "torch":
                import torch
                save_tensors(out / "resume.pt", {{"x": torch.zeros(100_000)}})
            elif {what!r} == "text":
                atomic_write_text(out / "curve.csv", "x" * 1_000_000)
            else:
                import h5py
                from envs.files import atomic_path
                with atomic_path(out / "good.h5") as tmp:
                    with h5py.File(tmp, "w") as f:
                        f["x"] = np.random.default_rng(0).random(200_000)
        except DiskFullError as exc:
            print("DISKFULL", exc)
    """)
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "DISKFULL" in res.stdout and "file-size limit" in res.stdout and str(tmp_path) in res.stdout, res.stdout
    assert "unexpected pos" not in res.stdout
    assert list(tmp_path.iterdir()) == []  # nothing truncated left


# -- 4. hand-edited or damaged results stop aggregation, naming the file -----------------------

def _run_files(root, suite="mamujoco", task="Hopper_3x1", quality="expert", algorithm="BC", seed=0, **edit):
    d = Path(root) / "runs" / suite / task / quality / algorithm / "default" / f"seed{seed}"
    d.mkdir(parents=True)
    m = {"schema_version": 2, "suite": suite, "task": task, "quality": quality, "algorithm": algorithm,
         "variant": "default", "seed": seed, "status": "ok", "dataset_sha256": "a" * 64, "win_rate": None,
         "return_mean": 10.0}
    m.update(edit)
    (d / "metrics.json").write_text(json.dumps(m))
    (d / "curve.csv").write_text("step,win_rate,return_mean\n5,,9.0\n10,,10.0\n")
    return d / "metrics.json"


def test_good_run_files_aggregate(tmp_path):
    from analysis.aggregate import aggregate

    df = aggregate([_run_files(tmp_path), _run_files(tmp_path, seed=1)])
    assert len(df) == 4 and df["is_final"].sum() == 2 and set(df["seed"]) == {0, 1}


def _broken(tmp_path, case):
    p = _run_files(tmp_path)

    def edit(**kw):
        p.write_text(json.dumps({**json.loads(p.read_text()), **kw}))
    if case == "task of another directory":  # a phantom "Ant 2x4 expert" row
        edit(task="Ant_2x4")
        return p, "task 'Ant_2x4' (its directory says 'Hopper_3x1')"
    if case == "seed of another directory":
        edit(seed=3)
        return p, "seed 3 (its directory says 0)"
    if case == "unknown status":
        edit(status="maybe")
        return p, "unknown status 'maybe'"
    curve = p.parent / "curve.csv"
    if case == "invalid JSON":
        p.write_text(p.read_text()[:-5])
        return p, "not valid JSON"
    if case == "missing key":
        m = json.loads(p.read_text())
        del m["task"]
        p.write_text(json.dumps(m))
        return p, "missing key(s) task"
    if case == "empty curve":
        curve.write_text("")
        return curve, "empty"
    if case == "curve without a metric":
        curve.write_text("step,return_mean\n5,1.0\n")
        return curve, "missing column(s) win_rate"
    if case == "curve with no rows":
        curve.write_text("step,win_rate,return_mean\n")
        return curve, "no evaluations"
    if case == "malformed curve":
        curve.write_text("step,win_rate,return_mean\n5,,abc\n")
        return curve, "column return_mean holds values that are not numbers"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["task of another directory", "quality of another directory",
                                  "seed of another directory", "unknown status", "invalid JSON", "missing key",
                                  "empty curve", "curve without a metric", "curve with no rows", "malformed curve"])
def test_a_damaged_run_file_stops_aggregation_naming_it(tmp_path, case):
    from analysis.aggregate import AggregationError, aggregate

    good = _run_files(tmp_path / "a", seed=1)
    if case == "quality of another directory":  # an "expert" file under medium/
        bad = _run_files(tmp_path / "b")
        target = tmp_path / "b" / "runs" / "mamujoco" / "Hopper_3x1" / "medium" / "BC" / "default" / "seed0"
        target.parent.mkdir(parents=True)
        bad.parent.rename(target)
        bad, words = target / "metrics.json", "quality 'expert' (its directory says 'medium')"
    else:
        bad, words = _broken(tmp_path / "b", case)
    with pytest.raises(AggregationError) as err:
        aggregate([good, bad.parent / "metrics.json"])
    assert str(bad) in str(err.value) and words in str(err.value), str(err.value)


# -- 5. absurd sizes are refused before any job -----------------------------------------------

@pytest.mark.parametrize("key,value,words", [
    ("train.eval_episodes", 10**9, "train.eval_episodes: 1000000000 is greater than the maximum of 4096"),
    ("train.final_eval_episodes", 10**6, "train.final_eval_episodes"),
    ("train.batch_size", 10**9, "train.batch_size: 1000000000 is greater than the maximum of 65536"),
    ("train.n_updates", 10**12, "train.n_updates"),
    ("train.n_evals", 10**7, "train.n_evals"),
    ("train.threads", 10**6, "train.threads"),
    ("train.epochs", {"mamujoco": 1e9}, "train.epochs.mamujoco"),
    ("seeds", [0, 10**30], "seeds.1: 1000000000000000000000000000000 is greater than the maximum of 2147483647"),
    ("seeds", [2**31], "seeds.0"),
    ("datasets.seed", 2**40, "datasets.seed"),
    ("datasets.smac_like.episodes", 10**9, "datasets.smac_like.episodes"),
    ("datasets.d4rl_like.episodes", 10**9, "datasets.d4rl_like.episodes"),
    ("datasets.d4rl_like.ars_iterations", 10**9, "datasets.d4rl_like.ars_iterations"),
    ("datasets.smac_like.mappo.env_steps", 10**13, "datasets.smac_like.mappo.env_steps"),
    ("datasets.d4rl_like.mappo.env_steps", 10**13, "datasets.d4rl_like.mappo.env_steps"),
])
def test_an_absurd_size_is_refused_by_the_config_checks(tmp_path, capsys, key, value, words):
    import yaml

    from pipeline.config_checks import main as check_main

    cfg = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    *parents, last = key.split(".")
    node = cfg
    for k in parents:
        node = node[k]
    node[last] = value
    path = tmp_path / "absurd.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert check_main([str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and words in err, err


def test_the_profiles_are_within_the_bounds(capsys):
    from pipeline.config_checks import main as check_main

    for name in ("smoke", "mini", "config"):
        assert check_main([str(ROOT / "config" / f"{name}.yaml")]) == 0, capsys.readouterr().err


# -- 6. files that are not what they say -------------------------------------------------------

@pytest.fixture(scope="module")
def good_h5(tmp_path_factory, hopper_dataset):
    return Path(hopper_dataset)


def _copy(src, dst):
    dst.write_bytes(Path(src).read_bytes())
    return dst


def test_an_hdf5_soft_link_loop_is_named(tmp_path, good_h5):
    import h5py

    from envs.dataset import load_dataset, obs_nbytes
    from envs.dataset_checks import DatasetError

    bad = _copy(good_h5, tmp_path / "loop.h5")
    with h5py.File(bad, "r+") as f:
        del f["obs"]
        f["obs"] = h5py.SoftLink("/loop")
        f["loop"] = h5py.SoftLink("/obs")
    for read in (load_dataset, obs_nbytes):
        with pytest.raises(DatasetError, match=f"{bad}: '/obs' is a soft link to '/loop', not an array"):
            read(bad)


def test_an_omiga_file_with_a_link_loop_is_named(tmp_path):
    import h5py

    from envs.dataset_checks import DatasetError
    from envs.importers.omiga_hdf5 import import_omiga_hdf5

    bad = tmp_path / "loop.hdf5"
    with h5py.File(bad, "w") as f:
        f["s"] = np.zeros((4, 3))
        f["o"] = h5py.SoftLink("/x")
        f["x"] = h5py.SoftLink("/o")
        f["a"], f["r"], f["d"] = np.zeros((4, 3, 1)), np.zeros((4, 1)), np.zeros((4, 1))
    with pytest.raises(DatasetError, match=f"{bad}: '/o' is a soft link to '/x'"):
        import_omiga_hdf5(bad, HOPPER, "expert")


def test_a_deeply_nested_json_attribute_is_named(tmp_path, good_h5):
    import h5py

    from envs.dataset import load_dataset
    from envs.dataset_checks import DatasetError

    bad = _copy(good_h5, tmp_path / "nested.h5")
    with h5py.File(bad, "r+") as f:
        f.attrs["provenance"] = "[" * 200_000 + "]" * 200_000
    with pytest.raises(DatasetError, match=f"{bad}: attribute 'provenance' holds JSON nested too deeply"):
        load_dataset(bad)


def test_a_dataset_larger_than_the_available_memory_is_refused(tmp_path, good_h5, monkeypatch):
    """The size check compares with the memory available now, not the physical memory."""
    from envs import host_memory
    from envs.dataset import load_dataset
    from envs.dataset_checks import DatasetError

    monkeypatch.setattr(host_memory, "physical_memory_bytes", lambda: 1 << 40)  # plenty of RAM ...
    monkeypatch.setattr(host_memory, "available_memory_bytes", lambda: 1024)  # ... but 1 KiB of it free
    with pytest.raises(DatasetError, match=f"{good_h5}: declares .* GiB of arrays, more than the memory "
                                           r"available now \(0.0 GiB of 1024.0 GiB\)"):
        load_dataset(good_h5)


def test_available_memory_is_below_physical_memory():
    from envs.host_memory import available_memory_bytes, physical_memory_bytes

    assert 0 < available_memory_bytes() <= physical_memory_bytes()


def test_a_memory_error_while_loading_names_the_file(tmp_path, good_h5, monkeypatch):
    import envs.dataset as td
    from envs.dataset_checks import DatasetError

    def no_memory(*a, **kw):
        raise MemoryError()
    monkeypatch.setattr(td, "check_dataset", no_memory)
    with pytest.raises(DatasetError, match=f"{good_h5}: out of memory while loading it"):
        td.load_dataset(good_h5)


@pytest.mark.parametrize("layout", ["comadice-npz", "omiga-hdf5"])
def test_a_directory_given_to_an_importer_is_named_as_one(tmp_path, layout):
    from envs.dataset_checks import DatasetError
    from envs.importers import import_dataset

    folder = tmp_path / "data.npz"
    folder.mkdir()
    with pytest.raises(DatasetError, match=f"{folder}: is a directory, not"):
        import_dataset(layout, folder, HOPPER, "expert")


@pytest.mark.parametrize("content,words", [(b"obs,actions\n1,2\n", "it is text starting 'obs,actions"),
                                           (pickle.dumps({"obs": 1}), "it is a Python pickle")])
def test_a_file_that_is_not_an_npz_is_named_as_such(tmp_path, content, words):
    from envs.dataset_checks import DatasetError
    from envs.importers.comadice_npz import import_comadice_npz

    bad = tmp_path / "hopper.npz"
    bad.write_bytes(content)
    with pytest.raises(DatasetError) as err:
        import_comadice_npz(bad, HOPPER, "expert")
    assert str(bad) in str(err.value) and "not an .npz file (a zip archive of .npy arrays)" in str(err.value)
    assert words in str(err.value) and "pickled Python objects" not in str(err.value)


def test_a_text_file_given_as_omiga_hdf5_is_named(tmp_path):
    from envs.dataset_checks import DatasetError
    from envs.importers.omiga_hdf5 import import_omiga_hdf5

    bad = tmp_path / "hopper.hdf5"
    bad.write_text("hello\n")
    with pytest.raises(DatasetError, match=f"{bad}: not an HDF5 file: it is text starting 'hello"):
        import_omiga_hdf5(bad, HOPPER, "expert")


# -- 8. after the workflow manager itself is killed: --unlock, then --rerun-incomplete ---------

def test_recovery_after_the_workflow_manager_is_killed(tmp_path):
    """The README's recovery, on a one-rule workflow whose manager is killed mid-job (SIGKILL:
    no clean-up): the plain rerun and ``--rerun-incomplete`` alone fail on the lock it left;
    ``--unlock`` then ``--rerun-incomplete`` redo the job."""
    import signal
    import time

    (tmp_path / "Snakefile").write_text(textwrap.dedent("""
        rule slow:
            output: "out.txt"
            shell: "sleep 60 && echo done > {output}"
    """))

    def smk(*args, wait=True):
        cmd = [sys.executable, "-m", "snakemake", "--cores", "1", "--directory", str(tmp_path),
               "--snakefile", str(tmp_path / "Snakefile"), *args]
        if not wait:
            return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    manager = smk(wait=False)
    try:
        deadline = time.time() + 120
        while not list((tmp_path / ".snakemake" / "incomplete").glob("*")) and time.time() < deadline:
            time.sleep(0.5)
        assert list((tmp_path / ".snakemake" / "locks").glob("*")), "the manager never took its lock"
    finally:
        os.killpg(manager.pid, signal.SIGKILL)  # the manager and its job, as a lost session would
        manager.wait()
    for args in ((), ("--rerun-incomplete",)):
        proc = smk(*args)
        assert proc.returncode != 0 and "LockException" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert smk("--unlock").returncode == 0
    (tmp_path / "Snakefile").write_text((tmp_path / "Snakefile").read_text().replace("sleep 60 && ", ""))
    proc = smk("--rerun-incomplete")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "out.txt").read_text() == "done\n"


def test_a_mappo_resume_state_that_does_not_fit_is_set_aside(tmp_path):
    """behaviour/d4rl_like/mappo.py: a state_dict of other shapes under a matching fingerprint."""
    from behaviour.d4rl_like.mappo import MAPPOConfig, train_mappo

    kw = dict(env_steps=2 * 48 * 3, cfg=MAPPOConfig(num_envs=2, rollout_steps=48, eval_episodes=2, epochs=1,
                                                     hidden=16), seed=1, n_checkpoints=4)
    resume = resume_path(tmp_path / "run.pt")

    class Killed(Exception):
        pass

    def kill(line):
        if "iteration 2," in line:
            raise Killed(line)
    with pytest.raises(Killed):
        train_mappo(HOPPER, **kw, log=kill, resume_file=resume, resume_every=1)
    saved = torch.load(resume, weights_only=False)
    saved["state"]["agent"] = {k: torch.zeros(2, 2) for k in saved["state"]["agent"]}
    torch.save(saved, resume)
    lines = []
    run = train_mappo(HOPPER, **kw, log=lines.append, resume_file=resume, resume_every=1)
    said = [s for s in lines if str(resume) in s and "set aside as" in s]
    assert said and "does not fit the run" in said[0], lines
    assert not any("resumed at" in s for s in lines) and len(run["curve"]) == 4
    assert len(list(tmp_path.glob("run.pt.resume.unusable-*"))) == 1

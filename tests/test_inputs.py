"""Every input checked where it enters: datasets against the task they are used for,
imports against the task before writing, unpickling that cannot run code, and the config."""
import os
import pickle
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from envs.dataset import from_episodes, load_dataset, obs_nbytes, write_dataset
from envs.dataset_checks import DatasetError, check_against_task
from envs.importers.comadice_npz import import_comadice_npz
from envs.importers.madt import import_madt_episodes
from envs.importers.omiga_hdf5 import import_omiga_hdf5
from envs.registry import get_task

SMAC = get_task("smacv1/5m_vs_6m")      # 5 agents, obs 140, state 132, 11 actions
# 3 agents, state 11, 1 action in [-1, 1]; local observations 9 wide (the authors' layout: 11 + 3 = 14)
HOPPER = get_task("mamujoco/Hopper_3x1", obs_layout="local")


def task_dataset(task, quality, lengths=(3, 4), seed=0, **meta_extra):
    """A small valid dataset shaped exactly like ``task``."""
    rng = np.random.default_rng(seed)
    eps = []
    for i, L in enumerate(lengths):
        ep = {"obs": rng.normal(size=(L + 1, task.n_agents, task.obs_dim)),
              "state": rng.normal(size=(L + 1, task.state_dim)), "reward": rng.normal(size=L),
              "terminated": i % 2 == 0}
        if task.discrete:
            ep["avail"] = np.ones((L + 1, task.n_agents, task.action_dim), bool)
            ep["actions"] = rng.integers(0, task.action_dim, size=(L, task.n_agents))
        else:
            ep["actions"] = rng.uniform(-1, 1, size=(L, task.n_agents, task.action_dim))
        eps.append(ep)
    meta = {"suite": task.suite, "task": task.name, "quality": quality, "backend": task.backend,
            "action_type": task.action_type, "provenance": {"seed": seed}, **meta_extra}
    return from_episodes(eps, meta)


# -- datasets against the task ---------------------------------------------------------------

def test_a_fitting_dataset_loads_with_expectations(tmp_path):
    path = tmp_path / "medium.h5"
    write_dataset(task_dataset(SMAC, "medium"), path)
    ds = load_dataset(path, expect_task=SMAC, expect_quality="medium")
    assert ds.n_episodes == 2
    load_dataset(path, expect_task="smacv1/5m_vs_6m", expect_quality="medium")  # a task id works too


def test_a_file_labelled_with_another_quality_is_refused(tmp_path):
    """A medium-replay file labelled expert would be tabulated as the expert row."""
    path = tmp_path / "medium-replay.h5"
    write_dataset(task_dataset(HOPPER, "expert"), path)
    with pytest.raises(DatasetError, match=r"medium-replay.h5: does not fit task mamujoco/Hopper_3x1: "
                                           r"quality attribute is 'expert', expected 'medium-replay'"):
        load_dataset(path, expect_task=HOPPER, expect_quality="medium-replay")


def test_a_file_of_another_task_is_refused_before_reading_its_arrays(tmp_path):
    path = tmp_path / "d.h5"
    write_dataset(task_dataset(SMAC, "good"), path)
    with pytest.raises(DatasetError) as err:
        load_dataset(path, expect_task="smacv1/6h_vs_8z", expect_quality="good")
    msg = str(err.value)
    assert str(path) in msg and "task attribute is '5m_vs_6m', expected '6h_vs_8z'" in msg
    assert "5 agents, the task has 6" in msg and "observation size 140" in msg and "state size 132" in msg


def test_sizes_are_checked_against_the_task_even_with_matching_labels(tmp_path):
    ds = task_dataset(SMAC, "good")
    ds.meta["task"] = "6h_vs_8z"  # labelled right for the run, shaped for another task
    with pytest.raises(DatasetError, match="x.h5: does not fit task smacv1/6h_vs_8z: 5 agents, the task has 6"):
        check_against_task(ds, get_task("smacv1/6h_vs_8z"), "good", "x.h5")


def test_discrete_action_range_is_the_tasks(tmp_path):
    wide = get_task("smacv1/5m_vs_6m")
    ds = task_dataset(wide, "good")
    ds.avail = np.ones(ds.avail.shape[:2] + (12,), bool)       # one action more than the task has
    ds.final_avail = np.ones(ds.final_avail.shape[:2] + (12,), bool)
    ds.actions[0, 0] = 11
    with pytest.raises(DatasetError, match=r"12 discrete actions \(avail mask width\), the task has 11.*"
                                           r"discrete actions span \[0, 11\], the task's are 0..10"):
        check_against_task(ds, wide, "good", "wide.h5")


def test_continuous_bounds_allow_the_recorded_action_scale(tmp_path):
    ds = task_dataset(HOPPER, "expert")
    ds.actions[2, 1, 0] = 1.5
    with pytest.raises(DatasetError, match=r"continuous actions reach \|a\| = 1.5, beyond the bound 1"):
        check_against_task(ds, HOPPER, "expert", "hop.h5")
    ds.meta["action_scale"] = 4.0  # the paper's files store actions x 4 and say so
    check_against_task(ds, HOPPER, "expert", "hop.h5")
    ds.meta["action_scale"] = 0.0
    with pytest.raises(DatasetError, match="action_scale attribute is 0.0"):
        check_against_task(ds, HOPPER, "expert", "hop.h5")


def test_a_full_state_observation_is_named_when_the_task_uses_local_ones():
    ds = task_dataset(HOPPER, "expert")
    ds.obs = np.zeros(ds.obs.shape[:2] + (14,), np.float32)
    ds.final_obs = np.zeros(ds.final_obs.shape[:2] + (14,), np.float32)
    with pytest.raises(DatasetError, match=r"observation size 14, the task's is 9 \(local observations\) "
                                           r"-- the width of the full state plus"):
        check_against_task(ds, HOPPER, "expert", "hop.h5")


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), r"empty file \(0 bytes\)"),
    (lambda p: p.write_bytes(b"PK\x03\x04 a zip, not HDF5"), "not a readable HDF5 file"),
    (lambda p: h5py.File(p, "w").create_dataset("data", data=np.zeros(3)), "schema_version is None"),
    (lambda p: p.mkdir(), "is a directory"),
])
def test_unusable_files_get_the_loaders_message(tmp_path, make, message):
    path = tmp_path / "good.h5"
    make(path)
    with pytest.raises(DatasetError, match=message) as err:
        load_dataset(path, expect_task=SMAC, expect_quality="good")
    assert str(path) in str(err.value)
    if message != "is a directory":
        with pytest.raises(DatasetError, match=str(path)):
            obs_nbytes(path)  # what training asks before loading is refused the same way


def test_a_truncated_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "good.h5"
    write_dataset(task_dataset(SMAC, "good", lengths=(40, 50)), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert str(path) in str(err.value)


def test_missing_fields_are_named(tmp_path):
    path = tmp_path / "good.h5"
    write_dataset(task_dataset(SMAC, "good"), path)
    with h5py.File(path, "r+") as f:
        del f["avail"]
        del f.attrs["quality"]
    with pytest.raises(DatasetError, match="good.h5: missing attribute"):
        load_dataset(path)
    with h5py.File(path, "r+") as f:
        f.attrs["quality"] = "good"
    with pytest.raises(DatasetError, match="good.h5: discrete dataset without '/avail'"):
        load_dataset(path)


def test_declared_sizes_are_checked_before_anything_is_allocated(tmp_path):
    """A header declaring 10^11 rows (a few KiB on disk: never written chunks) is refused."""
    path = tmp_path / "huge.h5"
    write_dataset(task_dataset(SMAC, "good"), path)
    T = 10 ** 11
    with h5py.File(path, "r+") as f:
        for key in ("obs", "state", "actions", "reward", "terminated", "truncated", "episode_start", "avail"):
            shape, dtype = (T,) + f[key].shape[1:], f[key].dtype
            del f[key]
            f.create_dataset(key, shape=shape, dtype=dtype, chunks=(1024,) + shape[1:], compression="gzip")
    assert path.stat().st_size < 1 << 20
    with pytest.raises(DatasetError,
                       match=r"huge.h5: declares \d+\.\d GiB of arrays, more than the memory available now"):
        load_dataset(path)


# -- imports against the task, before writing --------------------------------------------------

def hopper_npz(path, obs_width=9, action=0.5):
    n, T = 2, 4
    rng = np.random.default_rng(1)
    np.savez(path, states=rng.normal(size=(n, T + 1, 11)), obs=rng.normal(size=(n, T + 1, 3, obs_width)),
             actions=np.full((n, T + 1, 3, 1), action), rewards=rng.random((n, T)), dones=np.zeros((n, T)),
             actives=np.ones((n, T), bool))


def test_import_refuses_an_observation_width_the_task_does_not_have(tmp_path):
    hopper_npz(tmp_path / "hopper_expert.npz", obs_width=14)  # the paper's full state + id layout
    with pytest.raises(DatasetError, match=r"hopper_expert.npz: does not fit task mamujoco/Hopper_3x1: "
                                           r"observation size 14, the task's is 9"):
        import_comadice_npz(tmp_path / "hopper_expert.npz", HOPPER, "expert")


def test_import_checks_action_bounds_with_the_files_action_scale(tmp_path):
    hopper_npz(tmp_path / "ok.npz", action=3.9)  # within 4 x [-1, 1]: the paper's files
    assert import_comadice_npz(tmp_path / "ok.npz", HOPPER, "expert").meta["action_scale"] == 4.0
    hopper_npz(tmp_path / "wild.npz", action=7.0)
    with pytest.raises(DatasetError, match=r"wild.npz: .*continuous actions reach \|a\| = 7"):
        import_comadice_npz(tmp_path / "wild.npz", HOPPER, "expert")


def test_import_of_another_tasks_file_is_refused_before_writing(tmp_path):
    rows = 6
    with h5py.File(tmp_path / "ant.hdf5", "w") as f:  # Ant 2x4's shapes given as Hopper 3x1
        f["s"], f["o"] = np.zeros((rows, 2, 105)), np.zeros((rows, 2, 63))
        f["a"], f["r"], f["d"] = np.zeros((rows, 2, 4)), np.zeros((rows, 1)), np.zeros((rows, 1))
    with pytest.raises(DatasetError, match=r"ant.hdf5: 'o' has shape \(6, 2, 63\), expected \[rows, N=3, D\]"):
        import_omiga_hdf5(tmp_path / "ant.hdf5", HOPPER, "expert")


def test_npz_with_pickled_objects_is_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", obs=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DatasetError, match="obj.npz: "):
        import_comadice_npz(tmp_path / "obj.npz", SMAC, "good")


class _Payload:
    """Unpickling this runs code: it creates ``marker`` (what a crafted dataset would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_a_malicious_madt_file_is_refused_and_its_payload_never_runs(tmp_path, writer):
    folder = tmp_path / "episodes"
    folder.mkdir()
    marker = tmp_path / "payload_ran"
    episode = [[[np.zeros(SMAC.state_dim), np.zeros(SMAC.obs_dim), 0, 0.0, True, np.ones(11)]]] * SMAC.n_agents
    episode[0] = [[_Payload(marker)] * 6]
    if writer == "torch":
        torch.save(episode, folder / "ep_0.pt")
    else:
        with open(folder / "ep_0.pt", "wb") as f:
            pickle.dump(episode, f)
    with pytest.raises(DatasetError, match="ep_0.pt: "):
        import_madt_episodes(folder, SMAC, "medium")
    assert not marker.exists(), "the crafted file ran code during import"


def test_import_cli_gives_a_message_and_exit_2_without_traceback(tmp_path):
    folder = tmp_path / "episodes"
    folder.mkdir()
    marker = tmp_path / "payload_ran"
    torch.save([[[_Payload(marker)] * 6]] * SMAC.n_agents, folder / "ep_0.pt")
    (tmp_path / "empty.npz").write_bytes(b"")
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1"}
    script = os.path.join(os.getcwd(), "workflow/scripts/import_dataset.py")
    for layout, source in (("madt", folder), ("comadice-npz", tmp_path / "empty.npz"),
                           ("omiga-hdf5", tmp_path / "absent.hdf5")):
        out = subprocess.run([sys.executable, script, "--layout", layout, "--task", "smacv1/5m_vs_6m",
                              "--quality", "good", str(source), str(tmp_path / "out.h5")],
                             capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr and str(source.name) in out.stderr, out.stderr
    assert not marker.exists() and not (tmp_path / "out.h5").exists()


# -- the config, before any job starts ----------------------------------------------------------

import copy  # noqa: E402

import yaml  # noqa: E402

from pipeline.config_checks import ConfigFileError, check_config, check_config_types, load_yaml_strict  # noqa: E402
from pipeline.config_checks import main as check_main  # noqa: E402
from pipeline.grid import runs  # noqa: E402


@pytest.fixture(scope="module")
def smoke_config():
    """The smoke profile with the alpha ablation only (the checks under test do not depend on the rest)."""
    with open("config/smoke.yaml") as f:
        config = yaml.safe_load(f)
    config["ablations"] = {"suites": ["smacv2", "mamujoco"], "alpha": [0.01, 10, 100]}
    return config


def _problems(config) -> str:
    """Every check Snakemake makes on a loaded config; the message, or "" when it passes."""
    try:
        check_config_types(config)
        check_config(config)
    except ValueError as exc:
        return str(exc)
    return ""


@pytest.mark.parametrize("hp, message", [
    ({"hidden": 0}, "ComaDICE hidden must be >= 1, got 0"),
    ({"lr": 0}, "ComaDICE lr must be > 0, got 0"),
    ({"lr": -1.0e-3}, "ComaDICE lr must be > 0"),
    ({"tau": -0.5}, r"ComaDICE tau must be in \(0, 1\], got -0.5"),
    ({"grad_clip": -1}, "ComaDICE grad_clip must be > 0, got -1"),
    ({"hidden": "big"}, "ComaDICE hidden: 'big' must be an integer"),
    ({"hidden": 64.5}, "ComaDICE hidden: 64.5 must be an integer"),
    ({"hidden": 64.0}, "ComaDICE hidden: 64.0 must be an integer: write 64"),
    ({"action_scale": 0}, "ComaDICE action_scale must be > 0, got 0"),
    ({"lr": "1e-3"}, r"ComaDICE lr: '1e-3' must be a number \(YAML 1.1.*reads 1e-3 -- an exponent without a "
                     r"decimal point -- as text: write 1.0e-3 or 0.001\)"),
    ({"gamma": 1.0}, r"ComaDICE gamma must be in \[0, 1\)"),
    ({"reward_to_go": "yes please"}, "must be true or false"),
])
def test_hyperparameters_are_typed_and_range_checked(smoke_config, hp, message):
    config = copy.deepcopy(smoke_config)
    config["hyperparameters"] = {"ComaDICE": hp}
    assert re.search(message, _problems(config)), _problems(config)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["train"].update(n_updates=20.0), "train.n_updates: 20.0 must be an integer: write 20"),
    (lambda c: c["train"].update(batch_size="big"), r"train.batch_size: 'big' \(str\) must be an integer"),
    (lambda c: c["datasets"]["smac_like"].update(episodes="1e3"),
     "datasets.smac_like.episodes: .*reads 1e3 .* as text"),
    (lambda c: c["ablations"].update(alpha=["1e-2"]), r"ablations.alpha\[0\]: '1e-2' \(str\) must be a number"),
    (lambda c: c.update(seeds=[0, 1.0]), r"seeds\[1\]: 1.0 must be an integer: write 1"),
])
def test_numbers_in_the_config_are_numbers(smoke_config, edit, message):
    config = copy.deepcopy(smoke_config)
    edit(config)
    assert re.search(message, _problems(config)), _problems(config)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(algorithms=["ComaDICE", "comadice"]),
     "algorithms names ComaDICE twice \\('ComaDICE' and 'comadice'\\)"),
    (lambda c: c["suites"]["mamujoco"].update(tasks=["Hopper_3x1", "Hopper 3x1"]),
     "suites.mamujoco.tasks names mamujoco/Hopper_3x1 twice"),
    (lambda c: c.update(hyperparameters={"ComaDICE": {"lr": 1.0e-4}, "comadice": {"lr": 2.0e-4}}),
     "hyperparameters names ComaDICE twice"),
    (lambda c: c.update(variants={"alpha0.01": {"algorithm": "ComaDICE", "hyperparameters": {"alpha": 5.0}}}),
     "variants.alpha0.01: the name of an ablation variant"),
    (lambda c: c.update(variants={"my/variant": {"algorithm": "ComaDICE", "hyperparameters": {}}}),
     "variants.my/variant: a variant name becomes a directory"),
    (lambda c: c.update(fail_runs=["smacv1/5m_vs_6m/medium/ComaDICE/default/seed7"]),
     "fail_runs: 'smacv1/5m_vs_6m/medium/ComaDICE/default/seed7' is not a run of the grid; did you mean"),
])
def test_names_are_canonical_unique_and_real(smoke_config, edit, message):
    config = copy.deepcopy(smoke_config)
    edit(config)
    assert re.search(message, _problems(config)), _problems(config)


def test_hyperparameters_under_another_spelling_reach_the_runs(smoke_config):
    config = copy.deepcopy(smoke_config)
    config["hyperparameters"] = {"comadice": {"alpha": 3.0}}
    assert _problems(config) == ""
    coma = [r for r in runs(config) if r.algorithm == "ComaDICE" and r.variant == "default"]
    assert coma and all(r.hyperparameters == {"alpha": 3.0} for r in coma)


def test_the_smoke_profile_passes(smoke_config):
    assert _problems(copy.deepcopy(smoke_config)) == ""
    config = copy.deepcopy(smoke_config)
    config["fail_runs"] = [runs(config)[0].id]
    assert _problems(config) == ""


def test_yaml_files_are_read_strictly(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("profile: smoke\nseeds: [0]\nprofile: paper\n")
    with pytest.raises(ConfigFileError, match=r"dup.yaml, line 3, column 1: .*duplicate key 'profile' "
                                              r"\(first given on line 1\)"):
        load_yaml_strict(dup)
    broken = tmp_path / "broken.yaml"
    broken.write_text("profile: smoke\nsuites:\n  smacv1: {tasks: [5m_vs_6m], qualities: [medium]\n  mamujoco: x\n")
    with pytest.raises(ConfigFileError, match=r"broken.yaml, line 4, column \d+: "):
        load_yaml_strict(broken)


def test_config_check_command_names_file_and_line(tmp_path, capsys, smoke_config):
    text = yaml.safe_dump(smoke_config, sort_keys=False)
    good = tmp_path / "good.yaml"
    good.write_text(text)
    assert check_main([str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("  n_updates: 100\n", "  n_updates: 100\n  n_updates: 200\n"))
    assert check_main([str(bad)]) == 2
    assert re.search(r"bad.yaml, line \d+, column 3: .*duplicate key 'n_updates'", capsys.readouterr().err)


# -- code versions, atomic files ----------------------------------------------------------------

def test_code_version_covers_the_runs_sources_and_only_its_learner():
    from harness.provenance import code_version

    coma, bc = code_version("ComaDICE"), code_version("bc")
    assert "algorithms/comadice.py" in coma["files"] and "algorithms/bc.py" not in coma["files"]
    for shared in ("algorithms/base.py", "algorithms/networks.py", "algorithms/fdiv.py", "harness/data.py",
                   "harness/train.py", "envs/smax_backend.py", "envs/mamujoco_backend.py"):
        assert shared in coma["files"] and shared in bc["files"]
    assert coma["shared_sha256"] == bc["shared_sha256"] and coma["sources_sha256"] != bc["sources_sha256"]
    assert len(coma["sources_sha256"]) == 64 and "git_dirty" in coma


def test_code_version_follows_a_source_change(tmp_path, monkeypatch):
    import shutil

    import harness.provenance as prov

    for package in prov.PACKAGES:
        shutil.copytree(package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(prov, "ROOT", tmp_path)
    prov.code_version.cache_clear()
    learners = {"BC": "algorithms/bc.py", "ComaDICE": "algorithms/comadice.py"}
    monkeypatch.setattr(prov, "_learner_files", lambda: learners)
    before = {a: prov.code_version(a) for a in ("BC", "ComaDICE")}
    with open(tmp_path / "algorithms" / "bc.py", "a") as f:
        f.write("\n# a change\n")
    prov.code_version.cache_clear()
    after = {a: prov.code_version(a) for a in ("BC", "ComaDICE")}
    prov.code_version.cache_clear()
    assert after["BC"]["sources_sha256"] != before["BC"]["sources_sha256"]
    assert after["ComaDICE"]["sources_sha256"] == before["ComaDICE"]["sources_sha256"]  # only BC reruns


def test_tables_say_when_runs_mix_code_versions():
    import pandas as pd

    from analysis.score_tables import mixed_code_versions

    df = pd.DataFrame({"algorithm": ["BC", "BC", "ComaDICE"], "code_version": ["a", "b", "c"],
                       "code_shared": ["s", "s", "s"]})
    assert mixed_code_versions(df).startswith("BC runs from 2 versions of its code")
    df["code_version"] = ["a", "a", "c"]
    assert mixed_code_versions(df) == ""
    df["code_shared"] = ["s", "t", "s"]
    assert "shared training and simulator code in 2 versions" in mixed_code_versions(df)
    assert mixed_code_versions(df.drop(columns=["code_version", "code_shared"])) == ""


def test_atomic_writes_have_ordinary_modes_and_leave_nothing_on_failure(tmp_path):
    from envs.files import atomic_path, atomic_write_text

    mask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "scores.csv", "a,b\n")
        assert (tmp_path / "scores.csv").stat().st_mode & 0o777 == 0o644
        write_dataset(task_dataset(SMAC, "good"), tmp_path / "good.h5")
        assert (tmp_path / "good.h5").stat().st_mode & 0o777 == 0o644
        with pytest.raises(RuntimeError), atomic_path(tmp_path / "scores.csv") as tmp:
            open(tmp, "w").write("half")
            raise RuntimeError("killed")
        assert (tmp_path / "scores.csv").read_text() == "a,b\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["good.h5", "scores.csv"]
    finally:
        os.umask(mask)


def test_every_learner_refuses_a_shared_range_with_the_one_message_of_the_base():
    """Each range is stated once (algorithms/base.py FIELD_RANGES / FIELD_CHOICES): every learner
    with a field of that name refuses a value outside it with the same message."""
    import dataclasses

    from algorithms import REGISTRY, make_config
    from algorithms.base import FIELD_CHOICES, FIELD_RANGES

    bad = {"> 0": 0, ">= 0": -1, ">= 1": 0, "in (0, 1]": 0, "in [0, 1)": 1, "in [0, 1]": 2}
    checked = 0
    for name, cls in REGISTRY.items():
        for f in dataclasses.fields(cls.Config):
            if f.name in FIELD_RANGES:
                text = FIELD_RANGES[f.name][1]
                with pytest.raises(ValueError, match=re.escape(f"{name} {f.name} must be {text}, got")):
                    make_config(name, {f.name: bad[text]})
                checked += 1
            elif f.name in FIELD_CHOICES:
                with pytest.raises(ValueError, match=re.escape(f"{name} {f.name} must be one of")):
                    make_config(name, {f.name: "nonsense"})
                checked += 1
    assert checked > 40

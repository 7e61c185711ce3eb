"""The HDF5 dataset format: round trip, next-step indexing and refusal of malformed files."""
import h5py
import numpy as np
import pytest

from envs.dataset import from_episodes, load_dataset, write_dataset
from envs.dataset_checks import DatasetError


def _episodes(n=3, discrete=True, seed=0):
    rng = np.random.default_rng(seed)
    eps = []
    for i in range(n):
        L = 3 + i
        ep = {"obs": rng.normal(size=(L + 1, 2, 4)), "state": rng.normal(size=(L + 1, 6)),
              "reward": rng.normal(size=L), "terminated": i % 2 == 0}
        if discrete:
            ep["avail"] = np.ones((L + 1, 2, 3), bool)
            ep["actions"] = rng.integers(0, 3, size=(L, 2))
        else:
            ep["actions"] = rng.uniform(-1, 1, size=(L, 2, 1))
        eps.append(ep)
    meta = {"suite": "smacv1", "task": "5m_vs_6m", "quality": "medium", "backend": "smax",
            "action_type": "discrete" if discrete else "continuous", "provenance": {"seed": 0}}
    return eps, meta


@pytest.mark.parametrize("discrete", [True, False])
def test_round_trip_keeps_every_array_and_attribute(tmp_path, discrete):
    eps, meta = _episodes(discrete=discrete)
    ds = from_episodes(eps, meta)
    path = tmp_path / "d.h5"
    sha = write_dataset(ds, path)
    back = load_dataset(path)
    assert len(sha) == 64
    for key in ("obs", "state", "actions", "reward", "terminated", "truncated", "episode_start",
                "final_obs", "final_state"):
        np.testing.assert_array_equal(getattr(back, key), getattr(ds, key))
    assert back.meta["provenance"] == {"seed": 0} and back.meta["task"] == "5m_vs_6m"
    assert back.n_episodes == 3 and back.n_transitions == 3 + 4 + 5
    # terminated vs truncated follow the episodes; exactly one end per episode
    assert back.terminated.sum() == 2 and back.truncated.sum() == 1


def test_next_index_points_at_the_successor_without_duplicating_observations():
    eps, meta = _episodes()
    ds = from_episodes(eps, meta)
    obs_all = np.concatenate([ds.obs, ds.final_obs])
    nxt = ds.next_index()
    t = 0
    for e, ep in enumerate(eps):
        L = len(ep["reward"])
        for k in range(L):
            np.testing.assert_allclose(obs_all[nxt[t + k]], ep["obs"][k + 1].astype(np.float32))
        t += L
    assert ds.obs.shape[0] == t  # no padding, no stored next observations


def _corrupt(tmp_path, edit):
    eps, meta = _episodes()
    path = tmp_path / "bad.h5"
    write_dataset(from_episodes(eps, meta), path)
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda f: f.__delitem__("reward"), "missing array '/reward'"),
    (lambda f: f["obs"].__setitem__((0, 0, 0), np.nan), "obs contains NaN"),
    (lambda f: f.attrs.__setitem__("schema_version", 99), "schema_version"),
    (lambda f: f.attrs.__delitem__("task"), "missing attribute"),
    (lambda f: f["terminated"].__setitem__(slice(None), False) or f["truncated"].__setitem__(slice(None), False),
     "without terminated or truncated"),
    (lambda f: f["avail"].__setitem__(slice(None), False), "unavailable was taken"),
    (lambda f: (f.__delitem__("state"), f.create_dataset("state", data=np.zeros((2, 6), np.float32))),
     "'/state' declares 2 rows, '/reward' 12"),  # refused from the header, before reading
])
def test_malformed_files_are_refused_naming_file_and_problem(tmp_path, edit, message):
    path = _corrupt(tmp_path, edit)
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_non_hdf5_and_missing_files_are_refused(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(DatasetError, match="not a readable HDF5"):
        load_dataset(junk)
    with pytest.raises(DatasetError, match="no such dataset"):
        load_dataset(tmp_path / "absent.h5")


def test_write_is_atomic_and_validates_first(tmp_path):
    eps, meta = _episodes()
    ds = from_episodes(eps, meta)
    ds.reward[0] = np.inf
    with pytest.raises(DatasetError, match="reward contains NaN or infinity"):
        write_dataset(ds, tmp_path / "x.h5")
    assert list(tmp_path.iterdir()) == []


def test_a_dataset_of_another_backend_is_refused_naming_the_config_key(tmp_path):
    """SMAX data for a task configured to run on StarCraft II (``simulators.smac_backend: sc2``):
    refused before the arrays are read, naming both backends and the key; imported files are not
    a backend's and are checked by their sizes alone."""
    import dataclasses

    from envs.dataset_checks import check_against_task
    from envs.registry import get_task

    eps, meta = _episodes()
    smax = dataclasses.replace(get_task("5m_vs_6m", backend="smax"), n_agents=2, obs_dim=4, state_dim=6,
                               action_dim=3)
    sc2 = dataclasses.replace(smax, backend="sc2")
    ds = from_episodes(eps, meta)
    check_against_task(ds, smax)
    path = tmp_path / "medium.h5"
    write_dataset(ds, path)
    for check in (lambda: check_against_task(ds, sc2), lambda: load_dataset(path, expect_task=sc2)):
        with pytest.raises(DatasetError, match="made with backend 'smax', the task is configured with 'sc2' "
                                               r"\(set the config key simulators.smac_backend: smax"):
            check()
    check_against_task(from_episodes(eps, {**meta, "backend": "imported"}), sc2)


def test_loading_checks_each_fit_once(tmp_path, monkeypatch):
    """load_dataset checks the labels, sizes and settings from the file's header before reading
    the arrays, then only the checks that need the arrays (the values): no check runs twice."""
    import dataclasses

    from envs import dataset_checks as checks
    from envs.registry import get_task

    eps, meta = _episodes()
    task = dataclasses.replace(get_task("5m_vs_6m", backend="smax"), n_agents=2, obs_dim=4, state_dim=6, action_dim=3)
    path = tmp_path / "medium.h5"
    write_dataset(from_episodes(eps, meta), path)
    calls = {"shape": 0, "setting": 0, "value": 0}
    for name, key in (("_shape_problems", "shape"), ("_setting_problems", "setting"), ("_value_problems", "value")):
        real = getattr(checks, name)

        def counted(*a, _real=real, _key=key, **k):
            calls[_key] += 1
            return _real(*a, **k)
        monkeypatch.setattr(checks, name, counted)
    monkeypatch.setattr(checks, "TASK_CHECKS", [("sizes", checks._shape_check),
                                                ("action values", checks._value_problems),
                                                ("settings", checks._setting_check)])
    load_dataset(path, expect_task=task)
    assert calls == {"shape": 1, "setting": 1, "value": 1}

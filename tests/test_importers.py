"""Importers of the published layouts: small files in each layout round-trip; malformed ones are refused."""
import h5py
import numpy as np
import pytest
import torch

from envs.dataset_checks import DatasetError
from envs.importers.comadice_npz import import_comadice_npz
from envs.importers.madt import import_madt_episodes
from envs.importers.omiga_hdf5 import import_omiga_hdf5
from envs.registry import get_task

SMAC = get_task("5m_vs_6m")          # 5 agents, obs 140, state 132, 11 actions, limit 70
HOPPER = get_task("Hopper_3x1", obs_layout="local")  # 3 agents, obs 9, state 11, 1 action, limit 1000


def smac_npz(path, lengths=(3, 5), T=6):
    rng = np.random.default_rng(0)
    n, N = len(lengths), SMAC.n_agents
    actives = np.zeros((n, T), bool)
    dones = np.zeros((n, T), bool)
    for i, L in enumerate(lengths):
        actives[i, :L] = True
        dones[i, L - 1] = True
    data = dict(states=rng.normal(size=(n, T + 1, SMAC.state_dim)), obs=rng.normal(size=(n, T + 1, N, SMAC.obs_dim)),
                avails=np.ones((n, T + 1, N, SMAC.action_dim), bool), actions=rng.integers(0, 11, size=(n, T, N, 1)),
                rewards=rng.random((n, T)) * actives, dones=dones, actives=actives)
    np.savez(path, **data)
    return data


def test_comadice_npz_strips_padding(tmp_path):
    path = tmp_path / "5m_vs_6m_good.npz"
    src = smac_npz(path)
    ds = import_comadice_npz(path, SMAC, "good")
    assert ds.n_episodes == 2 and ds.n_transitions == 3 + 5  # padding gone
    np.testing.assert_allclose(ds.obs[3], src["obs"][1, 0].astype(np.float32))
    np.testing.assert_allclose(ds.final_obs[0], src["obs"][0, 3].astype(np.float32))
    np.testing.assert_array_equal(ds.actions[:3], src["actions"][0, :3, :, 0])
    assert ds.terminated.sum() == 2 and ds.meta["grade"] == "imported"
    assert len(ds.meta["provenance"]["source_sha256"]) == 64


def test_comadice_npz_mamujoco_and_refusal(tmp_path):
    rng = np.random.default_rng(1)
    n, T = 2, 4
    actives = np.ones((n, T), bool)
    np.savez(tmp_path / "hop.npz", states=rng.normal(size=(n, T + 1, 11)), obs=rng.normal(size=(n, T + 1, 3, 9)),
             actions=rng.uniform(-1, 1, size=(n, T + 1, 3, 1)), rewards=rng.random((n, T)),
             dones=np.zeros((n, T)), actives=actives)
    ds = import_comadice_npz(tmp_path / "hop.npz", HOPPER, "expert")
    assert ds.n_transitions == 8 and ds.meta["action_scale"] == 4.0
    assert ds.truncated.sum() == 2  # no done flag at the end: the episode was cut, it bootstraps
    bad = tmp_path / "bad.npz"
    data = smac_npz(bad)
    data.pop("avails")
    np.savez(bad, **data)
    with pytest.raises(DatasetError, match=r"bad.npz: missing key\(s\) avails"):
        import_comadice_npz(bad, SMAC, "good")


def omiga_file(path, lengths=(4, 1000), nan=False):
    rng = np.random.default_rng(2)
    rows = sum(L + 1 for L in lengths)
    s = np.repeat(rng.normal(size=(rows, 1, 11)), 3, axis=1)  # per agent, identical copies: state size 11
    d = np.zeros((rows, 1))
    pos = 0
    for L in lengths:
        pos += L
        d[pos] = 1  # the last observation row of an episode
        pos += 1
    if nan:
        s[0, 0, 0] = np.nan
    with h5py.File(path, "w") as f:
        f["s"], f["o"], f["a"] = s, s[..., :9], rng.uniform(-1, 1, size=(rows, 3, 1))
        f["r"], f["d"] = rng.random((rows, 1)), d


def test_omiga_hdf5_makes_time_limit_ends_truncated(tmp_path):
    omiga_file(tmp_path / "Hopper-expert.hdf5")
    ds = import_omiga_hdf5(tmp_path / "Hopper-expert.hdf5", HOPPER, "expert")
    assert ds.n_episodes == 2 and ds.n_transitions == 4 + 1000
    assert ds.terminated.tolist().count(True) == 1 and ds.truncated.sum() == 1  # the 1000-step one
    assert ds.meta["provenance"]["time_limit_ends_made_truncated"] == 1
    omiga_file(tmp_path / "nan.hdf5", nan=True)
    with pytest.raises(DatasetError, match="nan.hdf5: 's' contains NaN"):
        import_omiga_hdf5(tmp_path / "nan.hdf5", HOPPER, "expert")


def madt_episode(path, L, seed):
    rng = np.random.default_rng(seed)
    agents = []
    states = rng.normal(size=(L, SMAC.state_dim))  # one state shared by the agents: the task's state size
    for _ in range(SMAC.n_agents):
        steps = [[states[t], rng.normal(size=SMAC.obs_dim), int(rng.integers(11)), 0.5,
                  t == L - 1, np.ones(11)] for t in range(L)]
        agents.append(steps)
    torch.save(agents, path)


def test_madt_order_is_sorted_not_the_file_systems(tmp_path):
    for name, L in (("ep_2.pt", 4), ("ep_0.pt", 2), ("ep_1.pt", 3)):  # created out of order
        madt_episode(tmp_path / name, L, seed=L)
    ds = import_madt_episodes(tmp_path, SMAC, "medium")
    assert ds.episode_bounds()[:, 1].tolist() == [2, 5, 9]  # ep_0, ep_1, ep_2
    assert ds.terminated.sum() == 3 and ds.meta["provenance"]["order"].startswith("file names sorted")
    (tmp_path / "ep_3.pt").write_text("garbage")
    with pytest.raises(DatasetError, match="ep_3.pt: not readable with torch.load"):
        import_madt_episodes(tmp_path, SMAC, "medium")


def test_cli_imports_and_names_errors(tmp_path):
    import sys
    sys.path.insert(0, "workflow/scripts")
    from import_dataset import main
    smac_npz(tmp_path / "x.npz")
    assert main(["--layout", "comadice-npz", "--task", "smacv1/5m_vs_6m", "--quality", "good",
                 str(tmp_path / "x.npz"), str(tmp_path / "out.h5")]) == 0
    assert main(["--layout", "comadice-npz", "--task", "smacv1/5m_vs_7m", "--quality", "good",
                 str(tmp_path / "x.npz"), str(tmp_path / "out2.h5")]) == 2


def test_cli_imports_local_observation_omiga_file(tmp_path, capsys):
    """OMIGA's files hold each agent's own observation: the command line imports them with
    ``--obs-layout local`` (as users run it), and without it says what does not fit."""
    import sys
    sys.path.insert(0, "workflow/scripts")
    from import_dataset import main
    omiga_file(tmp_path / "Hopper-expert.hdf5")
    src, out = str(tmp_path / "Hopper-expert.hdf5"), tmp_path / "expert.h5"
    assert main(["--layout", "omiga-hdf5", "--task", "mamujoco/Hopper_3x1", "--quality", "expert",
                 "--obs-layout", "local", src, str(out)]) == 0
    from envs.dataset import load_dataset
    ds = load_dataset(out, expect_task=HOPPER, expect_quality="expert")
    assert ds.obs.shape[2] == HOPPER.obs_dim == 9 and ds.n_transitions == 4 + 1000
    assert main(["--layout", "omiga-hdf5", "--task", "mamujoco/Hopper_3x1", "--quality", "expert",
                 src, str(tmp_path / "authors.h5")]) == 2
    assert "observation size 9" in capsys.readouterr().err
    assert not (tmp_path / "authors.h5").exists()
    # a layout of MaMuJoCo asked of a SMAC task is refused by name, not imported
    smac_npz(tmp_path / "x.npz")
    assert main(["--layout", "comadice-npz", "--task", "smacv1/5m_vs_6m", "--quality", "good",
                 "--obs-layout", "local", str(tmp_path / "x.npz"), str(tmp_path / "y.h5")]) == 2

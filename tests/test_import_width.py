"""An OMIGA-layout MaMuJoCo file of the real width (the full state plus a one-hot id, standardised
per vector: 11 + 3 = 14 for Hopper 3x1, for both ``o`` and ``s`` as the authors' environment
writes them) imports for the task's default observation, trains one update and evaluates; a
file of another width is refused naming the file, the expected and the found width."""
import h5py
import numpy as np
import pytest

from envs.dataset import write_dataset
from envs.dataset_checks import DatasetError
from envs.importers.omiga_hdf5 import import_omiga_hdf5
from envs.mamujoco_backend import MaMuJoCoVectorEnv, authors_observation
from envs.registry import get_task
from harness.train import RunConfig, train


def _omiga_file(path, width_obs=None, episodes=2, steps=30):
    """Rows as OMIGA's files hold them: every step of an episode, then the observation after its
    last step with d = 1 (datasets/offline_dataset.py); o and s per agent."""
    task = get_task("Hopper_3x1")
    rng = np.random.default_rng(0)
    venv = MaMuJoCoVectorEnv(task, 1, seed=3)
    o, s, a, r, d = [], [], [], [], []
    for _ in range(episodes):
        _, state, _ = venv.reset()
        for t in range(steps + 1):
            obs = authors_observation(state[0], 3)
            if width_obs is not None:
                obs = obs[:, :width_obs]
            act = rng.uniform(-1, 1, size=(3, 1)).astype(np.float32)
            o.append(obs); s.append(obs); a.append(act)
            if t == steps:
                r.append([0.0]); d.append([1.0])
                break
            rew, term, trunc, _ = venv.step(act[None])
            r.append([float(rew[0])]); d.append([0.0])
            _, state, _ = venv.observe()
            if term[0]:
                full = authors_observation(state[0], 3)
                o.append(full[:, :width_obs] if width_obs else full)
                s.append(o[-1]); a.append(np.zeros((3, 1), np.float32)); r.append([0.0]); d.append([1.0])
                break
    with h5py.File(path, "w") as f:
        for k, v in (("o", o), ("s", s), ("a", a), ("r", r), ("d", d)):
            f.create_dataset(k, data=np.asarray(v, np.float32))


def test_a_file_of_the_real_width_imports_trains_and_evaluates(tmp_path):
    _omiga_file(tmp_path / "Hopper-v2-expert.hdf5")
    task = get_task("Hopper_3x1")
    ds = import_omiga_hdf5(tmp_path / "Hopper-v2-expert.hdf5", task, "expert")
    assert ds.obs.shape[2] == task.obs_dim == 14
    write_dataset(ds, tmp_path / "expert.h5")
    metrics = train(RunConfig(dataset=str(tmp_path / "expert.h5"), algorithm="BC", n_updates=1, batch_size=8,
                              n_evals=1, eval_episodes=1), tmp_path / "run", log=lambda s: None)
    assert np.isfinite(metrics["return_mean"])


def test_a_file_of_another_width_is_refused(tmp_path):
    _omiga_file(tmp_path / "Hopper-v2-local.hdf5", width_obs=9)
    with pytest.raises(DatasetError, match=r"Hopper-v2-local\.hdf5.*9.*14|Hopper-v2-local\.hdf5.*14.*9"):
        import_omiga_hdf5(tmp_path / "Hopper-v2-local.hdf5", get_task("Hopper_3x1"), "expert")

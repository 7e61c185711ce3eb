"""The SMAX behaviour run file (``mappo_run.npz``) is checked as the dataset loader checks its files:
kind, size, header depth, declared sizes against memory, and the recorded task, backend
and settings against what the dataset rule expects; every refusal names the file."""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict, replace

import numpy as np
import pytest

from behaviour.smac_like.mappo_config import SMAXMAPPOConfig, run_sizes
from behaviour.smac_like.run_file import RunFileError, load_run, save_run
from envs.registry import get_task

PROTOSS = get_task("protoss_5_vs_5")
TERRAN = get_task("terran_5_vs_5")
CFG = SMAXMAPPOConfig(num_envs=4, rollout_steps=32, chunk_length=16, minibatches=2, n_points=2)
ENV_STEPS = 4 * 32 * 4


def _run(task=PROTOSS, seed=0, cfg=CFG) -> dict:
    per_chunk, chunks = run_sizes(ENV_STEPS, cfg)
    rng = np.random.default_rng(0)
    episodes = []
    for L in (3, 5):
        episodes.append({"obs": rng.random((L + 1, task.n_agents, task.obs_dim), dtype=np.float32),
                         "state": rng.random((L + 1, task.state_dim), dtype=np.float32),
                         "avail": np.ones((L + 1, task.n_agents, task.action_dim), bool),
                         "actions": np.zeros((L, task.n_agents), np.int64), "reward": np.zeros(L, np.float32),
                         "terminated": True, "win": False, "iteration": 1})
    ck = {"iteration": 0, "env_steps": 0, "win_rate": 0.0, "return_mean": 0.0,
          "returns": np.zeros(4, np.float32), "actor": [np.zeros((3, 2), np.float32), np.ones(2, np.float32)]}
    return {"kind": "smax_mappo_jax", "task": task.name, "task_id": task.id, "config": asdict(cfg), "seed": seed,
            "checkpoints": [ck], "curve": [], "episodes": episodes,
            "env_steps": per_chunk * chunks * cfg.num_envs * cfg.rollout_steps, "updates": per_chunk * chunks,
            "record_per_point": 1, "wall_s": 1.0}


EXPECT = {"config": {"num_envs": 4, "rollout_steps": 32, "chunk_length": 16, "minibatches": 2, "n_points": 2},
          "env_steps": ENV_STEPS, "seed": 0, "record_episodes": 2}


@pytest.fixture
def run_file(tmp_path):
    path = tmp_path / "mappo_run.npz"
    save_run(_run(), path)
    return path


def test_a_run_of_the_rules_settings_loads(run_file):
    run = load_run(run_file, task=PROTOSS, expect=EXPECT)
    assert len(run["episodes"]) == 2 and run["episodes"][1]["obs"].shape == (6, 5, PROTOSS.obs_dim)


def test_a_truncated_run_file_is_named(run_file):
    data = run_file.read_bytes()
    run_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(RunFileError, match=r"mappo_run.npz: not a readable SMAX MAPPO run file, truncated"):
        load_run(run_file)


def test_an_empty_or_text_run_file_is_named(tmp_path):
    empty = tmp_path / "mappo_run.npz"
    empty.write_bytes(b"")
    with pytest.raises(RunFileError, match=r"mappo_run.npz: empty file \(0 bytes\)"):
        load_run(empty)
    text = tmp_path / "text.npz"
    text.write_text("version https://git-lfs.github.com/spec/v1\n")
    with pytest.raises(RunFileError, match=r"text.npz: not a SMAX MAPPO run file .*text starting"):
        load_run(text)
    with pytest.raises(RunFileError, match="a directory"):
        load_run(tmp_path)


def test_a_deeply_nested_header_is_named(tmp_path):
    path = tmp_path / "mappo_run.npz"
    nested = "[" * 200_000 + "]" * 200_000
    np.savez(path, header=np.frombuffer(nested.encode(), np.uint8))
    with pytest.raises(RunFileError, match=r"mappo_run.npz: the JSON header is nested too deeply"):
        load_run(path)


def test_an_array_declaring_more_than_memory_is_refused_unread(tmp_path):
    path = tmp_path / "mappo_run.npz"
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)})
    head = io.BytesIO()
    np.save(head, np.frombuffer(json.dumps({"kind": "smax_mappo_jax"}).encode(), np.uint8))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.npy", head.getvalue())
        z.writestr("ep_obs.npy", buf.getvalue() + b"\0" * 64)  # 64 bytes of data
    with pytest.raises(RunFileError, match=r"mappo_run.npz: declares 3725.3 GiB of arrays, more than the memory"):
        load_run(path)


def test_a_run_of_another_task_at_this_path_is_refused(tmp_path):
    path = tmp_path / "protoss_5_vs_5" / "mappo_run.npz"
    save_run(_run(task=TERRAN), path)
    with pytest.raises(RunFileError, match=r"protoss_5_vs_5/mappo_run.npz: not the run this dataset is made from: "
                                           r"task 'smacv2/terran_5_vs_5' \(the path's is 'smacv2/protoss_5_vs_5'\)"):
        load_run(path, task=PROTOSS, expect=EXPECT)


def test_a_run_of_other_settings_or_backend_is_refused(run_file):
    with pytest.raises(RunFileError, match=r"hidden 64 \(the config's is 128\)"):
        load_run(run_file, task=PROTOSS, expect={**EXPECT, "config": {**EXPECT["config"], "hidden": 128}})
    with pytest.raises(RunFileError, match=r"seed 0 \(the config's is 3\)"):
        load_run(run_file, task=PROTOSS, expect={**EXPECT, "seed": 3})
    with pytest.raises(RunFileError, match=r"env_steps 512 \(the config's 4096 make 4096\)"):
        load_run(run_file, task=PROTOSS, expect={**EXPECT, "env_steps": 4096})
    with pytest.raises(RunFileError, match=r"backend smax \(the task is configured on 'sc2'\)"):
        load_run(run_file, task=replace(PROTOSS, backend="sc2"), expect=EXPECT)


def test_episode_lengths_that_disagree_with_the_arrays_are_refused(tmp_path):
    run = _run()
    run["episodes"][1]["reward"] = run["episodes"][1]["reward"][:4]  # 4 rewards, 5 actions
    path = tmp_path / "mappo_run.npz"
    save_run(run, path)
    with pytest.raises(RunFileError, match=r"mappo_run.npz: 'ep_obs' holds 10 rows, the header's 2 episodes need 9"):
        load_run(path)

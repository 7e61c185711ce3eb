"""Importers: the published datasets into our format, so the paper can be rerun on its data.

Layouts (read from the loaders of their public code):

- ``comadice-npz`` (vietbt/ComaDICE, runner/utils.py ``load_smac_data`` /
  ``load_mamujoco_data``): one ``.npz`` per (task, quality), padded per trajectory.
  SMAC: states [n, T+1, S] (or per agent [n, T+1, N, S]), obs [n, T+1, N, O],
  avails [n, T+1, N, A], actions [n, T, N] (or [n, T, N, 1]), rewards / dones / actives
  [n, T] (or per agent).  MaMuJoCo: states [n, T+1, S], obs [n, T+1, N, O], actions
  [n, T+1, N, A] (the code uses actions[:, :-1]), rewards / dones / actives [n, T].
  ``actives`` marks the real steps of a padded trajectory.  The public code divides
  MaMuJoCo actions by 4 when it loads them (action_scale 4.0); the files hold the
  environment's actions, which we keep, and record ``source_action_scale`` = 4.0.
- ``omiga-hdf5`` (ZhengYinan-AIR/OMIGA, datasets/offline_dataset.py): keys s, o, a, r, d,
  flat in time; s and o are [T, N, D] (their observation is the full state plus the agent
  id, standardised per vector), a [T, N, A], r [T, 1], d [T, 1].  Their loader keeps the
  steps with d = 0 and bootstraps with mask 1 - d[t + 1]: a row with d = 1 is the last
  observation of an episode and the next row starts the next one.  So a time-limit end is
  stored exactly like a termination; we make it explicit: an episode of ``episode_limit``
  transitions is marked truncated (bootstrap), any shorter one terminated.
- ``madt`` (MADT, Meng et al. 2023): one file per episode, read with torch.load: per agent
  a list over time of [state, obs, action, reward, done, avail].  Files are read in sorted
  name order, never the file system's.  The observation after an episode's last step is
  not stored: the last observation stands in for it (unused after a termination).

Terminated vs truncated for SMAC files: an episode that ends before the map's limit is
terminated; one that lasts ``episode_limit`` steps is truncated (SMAC ends it at the limit
with done set, but the battle was not decided).  Every import records the source layout,
file names and sha256 (for a directory: sha256 over the sorted files' hashes) in its
provenance, and refuses a malformed file with a ``DatasetError`` naming file and problem.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from envs.dataset import DatasetError, OfflineDataset, file_sha256, from_episodes
from envs.registry import TaskSpec, check_quality

LAYOUTS = ("comadice-npz", "omiga-hdf5", "madt")


def _meta(task: TaskSpec, quality: str, provenance: dict) -> dict:
    check_quality(task, quality)
    return {"suite": task.suite, "task": task.name, "quality": quality, "backend": "imported",
            "backend_version": provenance["layout"], "action_type": task.action_type, "n_agents": task.n_agents,
            "approximation": False, "grade": "imported", "provenance": provenance}


def _check(cond, path, msg):
    if not cond:
        raise DatasetError(f"{path}: {msg}")


def _per_step(a, path, key, ndim):
    """Arrays the public code may store per agent: keep agent 0's copy."""
    a = np.asarray(a)
    if a.ndim == ndim + 1:
        return a[..., 0] if key != "states" else a[:, :, 0, :]
    _check(a.ndim == ndim, path, f"'{key}' has {a.ndim} dimensions, expected {ndim} (or {ndim + 1} per agent)")
    return a


def _truncated(length: int, task: TaskSpec) -> bool:
    return length >= task.episode_limit


def import_comadice_npz(path, task: TaskSpec, quality: str) -> OfflineDataset:
    path = str(path)
    try:
        data = np.load(path, allow_pickle=False)
        data = {k: data[k] for k in data.files}
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a DatasetError
        raise DatasetError(f"{path}: not a readable .npz file ({exc})") from None
    need = ("states", "obs", "actions", "rewards", "dones", "actives") + (("avails",) if task.discrete else ())
    missing = [k for k in need if k not in data]
    _check(not missing, path, f"missing key(s) {', '.join(missing)}")
    states = data["states"]
    states = states[:, :, 0, :] if states.ndim == 4 else states
    _check(states.ndim == 3, path, f"'states' must be [n, T+1, S], got {data['states'].shape}")
    obs = data["obs"]
    _check(obs.ndim == 4, path, f"'obs' must be [n, T+1, N, O], got {obs.shape}")
    n, T1, N = obs.shape[:3]
    _check(N == task.n_agents, path, f"{N} agents in 'obs', task {task.id} has {task.n_agents}")
    rewards = _per_step(data["rewards"], path, "rewards", 2).astype(np.float32)
    dones = _per_step(data["dones"], path, "dones", 2).astype(bool)
    actives = _per_step(data["actives"], path, "actives", 2).astype(bool)
    for key, arr in (("rewards", rewards), ("dones", dones), ("actives", actives)):
        _check(arr.shape[:2] == (n, T1 - 1), path, f"'{key}' must be [n={n}, T={T1 - 1}], got {arr.shape}")
    actions = data["actions"]
    if task.discrete:
        actions = actions[..., 0] if actions.ndim == 4 else actions
        avails = data["avails"].astype(bool)
        _check(avails.shape[:3] == (n, T1, N), path, f"'avails' must be [n, T+1, N, A], got {avails.shape}")
    else:
        actions = actions[:, : T1 - 1]
    _check(actions.shape[:3] == (n, T1 - 1, N), path, f"'actions' must be [n, T, N, ...], got {actions.shape}")
    for key, arr in (("obs", obs), ("states", states), ("rewards", rewards)):
        _check(np.isfinite(arr).all(), path, f"'{key}' contains NaN or infinity")
    episodes = []
    for i in range(n):
        L = int(actives[i].sum())
        if L == 0:
            continue
        _check(actives[i, :L].all(), path, f"trajectory {i}: 'actives' is not a prefix (padding inside)")
        ep = {"obs": obs[i, : L + 1], "state": states[i, : L + 1], "actions": actions[i, :L],
              "reward": rewards[i, :L], "terminated": not _truncated(L, task) and bool(dones[i, L - 1])}
        if task.discrete:
            ep["avail"] = avails[i, : L + 1]
        episodes.append(ep)
    _check(episodes, path, "no trajectory has an active step")
    prov = {"layout": "comadice-npz", "source": os.path.basename(path), "source_sha256": file_sha256(path),
            "trajectories": len(episodes)}
    if not task.discrete:
        prov["source_action_scale"] = 4.0  # the public code divides actions by 4 when loading
    return from_episodes(episodes, _meta(task, quality, prov))


def import_omiga_hdf5(path, task: TaskSpec, quality: str) -> OfflineDataset:
    import h5py

    path = str(path)
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("s", "o", "a", "r", "d") if k not in f]
            _check(not missing, path, f"missing key(s) {', '.join(missing)}")
            s, o, a, r, d = (np.asarray(f[k]) for k in ("s", "o", "a", "r", "d"))
    except OSError as exc:
        raise DatasetError(f"{path}: not a readable HDF5 file ({exc})") from None
    T = s.shape[0]
    _check(o.ndim == 3 and o.shape[0] == T and o.shape[1] == task.n_agents, path,
           f"'o' must be [T={T}, N={task.n_agents}, D], got {o.shape}")
    _check(a.shape[:2] == (T, task.n_agents), path, f"'a' must be [T, N, A], got {a.shape}")
    r, d = r.reshape(T, -1)[:, 0].astype(np.float32), d.reshape(T, -1)[:, 0].astype(bool)
    state = s[:, 0, :] if s.ndim == 3 else s
    for key, arr in (("s", s), ("o", o), ("a", a), ("r", r)):
        _check(np.isfinite(arr).all(), path, f"'{key}' contains NaN or infinity")
    ends = np.flatnonzero(d)
    _check(len(ends) > 0, path, "no row has d = 1: episode ends cannot be found")
    episodes, start, truncations = [], 0, 0
    for end in ends:
        L = end - start  # rows start..end are observations; end's action and reward are unused
        if L >= 1:
            trunc = _truncated(L, task)
            truncations += trunc
            episodes.append({"obs": o[start: end + 1], "state": state[start: end + 1],
                             "actions": a[start:end].astype(np.float32), "reward": r[start:end],
                             "terminated": not trunc})
        start = end + 1
    prov = {"layout": "omiga-hdf5", "source": os.path.basename(path), "source_sha256": file_sha256(path),
            "trajectories": len(episodes), "time_limit_ends_marked_truncated": int(truncations),
            "note": "OMIGA's loader stores time-limit ends as d = 1 like terminations; the obs are the "
                    "full state plus agent id, standardised per vector",
            "dropped_rows_after_last_end": int(T - start)}
    return from_episodes(episodes, _meta(task, quality, prov))


def import_madt_episodes(directory, task: TaskSpec, quality: str) -> OfflineDataset:
    import torch

    directory = Path(directory)
    _check(directory.is_dir(), directory, "not a directory of MADT episode files")
    files = sorted(p for p in directory.iterdir() if p.is_file())
    _check(files, directory, "no episode files")
    episodes, hashes = [], []
    for p in files:
        try:
            data = torch.load(p, map_location="cpu", weights_only=False)
        except Exception as exc:  # noqa: BLE001
            raise DatasetError(f"{p}: not readable with torch.load ({exc})") from None
        _check(isinstance(data, (list, tuple)) and len(data) == task.n_agents, p,
               f"expected a list of {task.n_agents} agents, got {type(data).__name__} of length "
               f"{len(data) if hasattr(data, '__len__') else '?'}")
        L = len(data[0])
        _check(L > 0 and all(len(ag) == L for ag in data), p, "agents have different episode lengths")
        try:
            steps = [[np.asarray(x, dtype=np.float64) for x in step] for ag in data for step in ag]
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"{p}: a step is not [state, obs, action, reward, done, avail] ({exc})") from None
        _check(all(len(st) == 6 for st in steps), p, "a step is not [state, obs, action, reward, done, avail]")
        get = lambda k: np.stack([np.stack([np.asarray(ag[t][k], dtype=np.float32) for ag in data])
                                  for t in range(L)])                          # [L, N, ...]
        state, obs, action, reward, done, avail = (get(k) for k in range(6))
        for key, arr in (("state", state), ("obs", obs), ("reward", reward)):
            _check(np.isfinite(arr).all(), p, f"{key} contains NaN or infinity")
        obs_all = np.concatenate([obs, obs[-1:]])            # no observation after the last step is stored
        ep = {"obs": obs_all, "state": np.concatenate([state[:, 0], state[-1:, 0]]),
              "actions": action.reshape(L, task.n_agents).astype(np.int64),
              "reward": reward.reshape(L, task.n_agents)[:, 0],
              "avail": np.concatenate([avail, avail[-1:]]).astype(bool),
              "terminated": bool(done.reshape(L, -1)[-1, 0]) and not _truncated(L, task)}
        episodes.append(ep)
        hashes.append(file_sha256(p))
    digest = hashlib.sha256("".join(hashes).encode()).hexdigest()
    prov = {"layout": "madt", "source": directory.name, "source_files": len(files), "source_sha256": digest,
            "order": "sorted file names", "final_observation": "the last observation repeated"}
    return from_episodes(episodes, _meta(task, quality, prov))


def import_dataset(layout: str, source, task: TaskSpec, quality: str) -> OfflineDataset:
    fn = {"comadice-npz": import_comadice_npz, "omiga-hdf5": import_omiga_hdf5, "madt": import_madt_episodes}
    if layout not in fn:
        raise ValueError(f"unknown layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    return fn[layout](source, task, quality)

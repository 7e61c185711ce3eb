"""The offline dataset format: one compressed HDF5 file per (suite, task, quality).

Layout (schema version 1).  ``T`` transitions stored flat in time, ``E`` episodes,
``N`` agents, ``O`` per-agent observation size (agents with smaller observations are
zero padded; their true sizes are in the ``obs_dims`` attribute), ``S`` state size,
``A`` actions (discrete) or action size (continuous)::

    /obs            float32 [T, N, O]   observation of each agent at step t
    /state          float32 [T, S]      global state at step t
    /actions        int64   [T, N]      (discrete) or float32 [T, N, A] (continuous)
    /avail          bool    [T, N, A]   available-action mask at step t (discrete only)
    /reward         float32 [T]         shared team reward for step t
    /terminated     bool    [T]         the episode ended at t by the environment (no bootstrap)
    /truncated      bool    [T]         the episode was cut at t by the time limit (bootstrap)
    /episode_start  bool    [T]         t is the first step of an episode
    /final_obs      float32 [E, N, O]   observation after the last step of each episode
    /final_state    float32 [E, S]
    /final_avail    bool    [E, N, A]   (discrete only)

No padding in time and no duplicated next observations: the successor of step t is
step t+1 inside an episode, and row e of ``final_*`` after the last step of episode
e (``next_index`` builds that map on load).  Attributes on the root hold the schema
version, suite, task, quality, backend and its version, the action type, ``obs_dims``
and a JSON ``provenance`` (how the data was made: behaviour policy, seed, or the
imported file's checksum) and ``grade`` ("smoke" for the simple behaviour data of
the foundation issue, "paper" for datasets made as the paper's were).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import h5py
import numpy as np

SCHEMA_VERSION = 1
_COMPRESSION = dict(compression="gzip", compression_opts=4, shuffle=True)


class DatasetError(ValueError):
    """A dataset file is malformed; the message names the file and the problem."""


@dataclass
class OfflineDataset:
    obs: np.ndarray
    state: np.ndarray
    actions: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    episode_start: np.ndarray
    final_obs: np.ndarray
    final_state: np.ndarray
    avail: Optional[np.ndarray] = None
    final_avail: Optional[np.ndarray] = None
    meta: dict = field(default_factory=dict)
    obs_all: Optional[np.ndarray] = field(default=None, repr=False)    # concat(obs, final_obs), if loaded so
    state_all: Optional[np.ndarray] = field(default=None, repr=False)

    @property
    def discrete(self) -> bool:
        return self.actions.ndim == 2

    @property
    def n_transitions(self) -> int:
        return int(self.reward.shape[0])

    @property
    def n_episodes(self) -> int:
        return int(self.final_obs.shape[0])

    @property
    def n_agents(self) -> int:
        return int(self.obs.shape[1])

    def episode_bounds(self) -> np.ndarray:
        """[E, 2] start (inclusive) and end (exclusive) index of every episode."""
        starts = np.flatnonzero(self.episode_start)
        ends = np.append(starts[1:], self.n_transitions)
        return np.stack([starts, ends], axis=1)

    def next_index(self) -> np.ndarray:
        """Index of each step's successor in ``concat(obs, final_obs)``."""
        nxt = np.arange(1, self.n_transitions + 1, dtype=np.int64)
        ends = self.episode_bounds()[:, 1] - 1
        nxt[ends] = self.n_transitions + np.arange(len(ends))
        return nxt

    def episode_returns(self) -> np.ndarray:
        bounds = self.episode_bounds()
        csum = np.concatenate([[0.0], np.cumsum(self.reward, dtype=np.float64)])
        return csum[bounds[:, 1]] - csum[bounds[:, 0]]


def from_episodes(episodes: list, meta: dict) -> OfflineDataset:
    """Build a dataset from a list of episode dicts.

    Each episode has ``obs [L+1, N, O]``, ``state [L+1, S]``, ``actions [L, ...]``,
    ``reward [L]``, ``terminated`` (bool: the last step ended the episode, as opposed to
    a time-limit cut) and, for discrete tasks, ``avail [L+1, N, A]``.
    """
    if not episodes:
        raise ValueError("from_episodes needs at least one episode")
    cat = lambda key, sl: np.concatenate([np.asarray(e[key])[sl] for e in episodes])
    lengths = [len(e["reward"]) for e in episodes]
    T = sum(lengths)
    terminated = np.zeros(T, bool)
    truncated = np.zeros(T, bool)
    start = np.zeros(T, bool)
    pos = 0
    for e, L in zip(episodes, lengths):
        if L < 1:
            raise ValueError("an episode has no steps")
        start[pos] = True
        if e["terminated"]:
            terminated[pos + L - 1] = True
        else:
            truncated[pos + L - 1] = True
        pos += L
    discrete = "avail" in episodes[0] and episodes[0]["avail"] is not None
    return OfflineDataset(
        obs=cat("obs", slice(None, -1)).astype(np.float32),
        state=cat("state", slice(None, -1)).astype(np.float32),
        actions=cat("actions", slice(None)).astype(np.int64 if discrete else np.float32),
        reward=cat("reward", slice(None)).astype(np.float32),
        terminated=terminated, truncated=truncated, episode_start=start,
        final_obs=np.stack([np.asarray(e["obs"])[-1] for e in episodes]).astype(np.float32),
        final_state=np.stack([np.asarray(e["state"])[-1] for e in episodes]).astype(np.float32),
        avail=cat("avail", slice(None, -1)).astype(bool) if discrete else None,
        final_avail=(np.stack([np.asarray(e["avail"])[-1] for e in episodes]).astype(bool)
                     if discrete else None),
        meta=dict(meta),
    )


_ARRAYS = ("obs", "state", "actions", "reward", "terminated", "truncated", "episode_start",
           "final_obs", "final_state", "avail", "final_avail")
_REQUIRED_META = ("suite", "task", "quality", "backend", "action_type")


def write_dataset(ds: OfflineDataset, path) -> str:
    """Write atomically (temp file then rename); returns the file's sha256."""
    path = Path(path)
    validate(ds, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".h5.tmp")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            for key in _ARRAYS:
                arr = getattr(ds, key)
                if arr is None:
                    continue
                opts = _COMPRESSION if arr.ndim >= 1 and arr.size > 0 else {}
                f.create_dataset(key, data=arr, **opts)
            f.attrs["schema_version"] = SCHEMA_VERSION
            for k, v in ds.meta.items():
                f.attrs[k] = json.dumps(v) if isinstance(v, (dict, list, tuple)) else v
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return file_sha256(path)


def obs_nbytes(path) -> int:
    """Bytes the observations of a dataset file take as float32 (to choose a storage dtype)."""
    with h5py.File(path, "r") as f:
        return 4 * (int(np.prod(f["obs"].shape)) + int(np.prod(f["final_obs"].shape)))


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_dataset(path, obs_dtype=None) -> OfflineDataset:
    """Load and validate; a malformed file raises ``DatasetError`` naming file and problem.

    ``obs`` and ``final_obs`` (and ``state`` / ``final_state``) are read straight into one
    contiguous buffer each (``ds.obs`` and ``ds.final_obs`` are views of it, kept as
    ``ds.obs_all`` / ``ds.state_all``), so training can use them without a copy.
    ``obs_dtype=np.float16`` halves the memory of the largest array (read with conversion,
    chunk by chunk: the float32 array never exists in memory).
    """
    path = str(path)
    if not os.path.exists(path):
        raise DatasetError(f"{path}: no such dataset file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DatasetError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        version = f.attrs.get("schema_version")
        if version != SCHEMA_VERSION:
            raise DatasetError(f"{path}: schema_version is {version!r}, expected {SCHEMA_VERSION}")
        meta = {}
        for k, v in f.attrs.items():
            if isinstance(v, bytes):
                v = v.decode()
            if isinstance(v, str) and v[:1] in "[{":
                try:
                    v = json.loads(v)
                except json.JSONDecodeError:
                    pass
            meta[k] = v.item() if isinstance(v, np.generic) else v
        missing = [k for k in _REQUIRED_META if k not in meta]
        if missing:
            raise DatasetError(f"{path}: missing attribute(s) {', '.join(missing)}")
        arrays, joined = {}, {}
        for key in _ARRAYS:
            if key not in f and key not in ("avail", "final_avail"):
                raise DatasetError(f"{path}: missing array '/{key}'")
        for key in ("obs", "state"):
            a, b = f[key], f[f"final_{key}"]
            dtype = np.dtype(obs_dtype) if (key == "obs" and obs_dtype is not None) else a.dtype
            if a.shape[1:] != b.shape[1:]:
                raise DatasetError(f"{path}: {key} {a.shape} and final_{key} {b.shape} differ in shape")
            buf = np.empty((a.shape[0] + b.shape[0],) + a.shape[1:], dtype=dtype)
            step = max(1, (64 << 20) // max(1, int(np.prod(a.shape[1:])) * 4))  # 64 MiB chunks
            for lo in range(0, a.shape[0], step):
                hi = min(lo + step, a.shape[0])
                buf[lo:hi] = a[lo:hi]
            if b.shape[0]:
                buf[a.shape[0]:] = b[()]
            joined[key] = buf
            arrays[key], arrays[f"final_{key}"] = buf[: a.shape[0]], buf[a.shape[0]:]
        for key in _ARRAYS:
            if key in f and key not in arrays:
                arrays[key] = f[key][()]
    ds = OfflineDataset(**arrays, meta=meta)
    validate(ds, path)
    ds.obs_all, ds.state_all = joined["obs"], joined["state"]
    return ds


def _all_finite(a: np.ndarray, rows: int = 4096) -> bool:
    """np.isfinite(a).all() in chunks: no temporary the size of a large array."""
    return all(np.isfinite(a[lo:lo + rows]).all() for lo in range(0, a.shape[0], rows))


def validate(ds: OfflineDataset, where: str = "<dataset>") -> None:
    """Check shapes, dtypes, finiteness and episode structure."""
    def bad(msg):
        raise DatasetError(f"{where}: {msg}")

    T = ds.reward.shape[0] if ds.reward.ndim == 1 else bad(f"reward must be 1-D, got shape {ds.reward.shape}")
    if T == 0:
        bad("dataset holds no transitions")
    if ds.obs.ndim != 3 or ds.obs.shape[0] != T:
        bad(f"obs must be [T={T}, N, O], got {ds.obs.shape}")
    N = ds.obs.shape[1]
    if ds.state.ndim != 2 or ds.state.shape[0] != T:
        bad(f"state must be [T={T}, S], got {ds.state.shape}")
    for key in ("terminated", "truncated", "episode_start"):
        arr = getattr(ds, key)
        if arr.shape != (T,) or arr.dtype != bool:
            bad(f"{key} must be bool [T={T}], got {arr.dtype} {arr.shape}")
    action_type = ds.meta.get("action_type", "discrete" if ds.actions.ndim == 2 else "continuous")
    if action_type == "discrete":
        if ds.actions.shape != (T, N) or not np.issubdtype(ds.actions.dtype, np.integer):
            bad(f"discrete actions must be int [T={T}, N={N}], got {ds.actions.dtype} {ds.actions.shape}")
        if ds.avail is None or ds.final_avail is None:
            bad("discrete dataset without 'avail' / 'final_avail' masks")
        if ds.avail.ndim != 3 or ds.avail.shape[:2] != (T, N):
            bad(f"avail must be [T={T}, N={N}, A], got {ds.avail.shape}")
        A = ds.avail.shape[2]
        if ds.actions.min() < 0 or ds.actions.max() >= A:
            bad(f"actions outside [0, {A})")
        taken = np.take_along_axis(ds.avail, ds.actions[..., None], axis=2)
        if not taken.all():
            t = int(np.argwhere(~taken[..., 0])[0][0])
            bad(f"an action marked unavailable was taken (first at step {t})")
    elif action_type == "continuous":
        if ds.actions.ndim != 3 or ds.actions.shape[:2] != (T, N):
            bad(f"continuous actions must be float [T={T}, N={N}, A], got {ds.actions.shape}")
        if not np.isfinite(ds.actions).all():
            bad("actions contain NaN or infinity")
    else:
        bad(f"unknown action_type {action_type!r}")
    for key in ("obs", "state", "reward", "final_obs", "final_state"):
        if not _all_finite(getattr(ds, key)):
            bad(f"{key} contains NaN or infinity")
    if not ds.episode_start[0]:
        bad("the first step is not marked as an episode start")
    E = int(ds.episode_start.sum())
    if ds.final_obs.shape != (E, N, ds.obs.shape[2]):
        bad(f"final_obs must be [E={E}, N={N}, O={ds.obs.shape[2]}], got {ds.final_obs.shape}")
    if ds.final_state.shape != (E, ds.state.shape[1]):
        bad(f"final_state must be [E={E}, S], got {ds.final_state.shape}")
    ends = np.append(np.flatnonzero(ds.episode_start)[1:] - 1, T - 1)
    done = ds.terminated | ds.truncated
    if not done[ends].all():
        e = int(np.flatnonzero(~done[ends])[0])
        bad(f"episode {e} ends at step {ends[e]} without terminated or truncated set")
    if done.sum() != E:
        bad(f"{int(done.sum())} steps are marked terminal but there are {E} episodes")
    if (ds.terminated & ds.truncated).any():
        bad("a step is marked both terminated and truncated")

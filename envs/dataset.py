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
imported file's checksum) and ``grade`` ("smoke" for the simple, quick behaviour data of
the smoke and mini profiles (``datasets.generator: smoke``), "paper" for datasets made as
the paper's were, "imported" for published datasets read by ``envs/importers/``).

The checks a dataset passes before it is written and after it is read, and the ``DatasetError``
that refuses one, are ``envs/dataset_checks.py``.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

try:
    import h5py
except ImportError:  # the workflow's host builds its job graph (memory checks included) without h5py
    h5py = None

from envs import host_memory
from envs.dataset_checks import (
    DatasetError,
    check_against_task,
    check_dataset,
    check_declared,
    check_header_against_task,
    task_spec,
)
from envs.files import atomic_path

SCHEMA_VERSION = 1
_COMPRESSION = dict(compression="gzip", compression_opts=4, shuffle=True)


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
    avail: np.ndarray | None = None
    final_avail: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    obs_all: np.ndarray | None = field(default=None, repr=False)    # concat(obs, final_obs), if loaded so
    state_all: np.ndarray | None = field(default=None, repr=False)

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
    for e, L in zip(episodes, lengths, strict=False):
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
    check_dataset(ds, str(path))
    with atomic_path(path, suffix=".h5.tmp") as tmp:  # mode 0644, not mkstemp's 0600
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
    return file_sha256(path)


def obs_nbytes(path) -> int:
    """Bytes the observations of a dataset file take as float32 (to choose a storage dtype)."""
    with _open_h5(str(path)) as f:
        for key in ("obs", "final_obs"):
            link = root_link_problem(f, key)
            if link is not None:
                raise DatasetError(f"{path}: {link}")
            if not isinstance(f.get(key), h5py.Dataset) or len(f[key].shape) != 3:
                raise DatasetError(f"{path}: missing array '/{key}' (or it is not [rows, N, O])")
        return 4 * (int(np.prod(f["obs"].shape)) + int(np.prod(f["final_obs"].shape)))


def _open_h5(path: str):
    """h5py.File for reading, or a DatasetError naming the file (missing, empty, not HDF5)."""
    if not os.path.exists(path):
        raise DatasetError(f"{path}: no such dataset file")
    if os.path.isdir(path):
        raise DatasetError(f"{path}: is a directory, not a dataset file")
    if os.path.getsize(path) == 0:
        raise DatasetError(f"{path}: empty file (0 bytes), not a dataset; delete it and rerun to regenerate")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DatasetError(f"{path}: not a readable HDF5 file, truncated or of another format ({exc})") from None


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_dataset(path, obs_dtype=None, expect_task=None, expect_quality: str | None = None) -> OfflineDataset:
    """Load and validate; a malformed file raises ``DatasetError`` naming file and problem.

    ``obs`` and ``final_obs`` (and ``state`` / ``final_state``) are read straight into one
    contiguous buffer each (``ds.obs`` and ``ds.final_obs`` are views of it, kept as
    ``ds.obs_all`` / ``ds.state_all``), so training can use them without a copy.
    ``obs_dtype=np.float16`` halves the memory of the largest array (read with conversion,
    chunk by chunk: the float32 array never exists in memory).

    Every array's declared shape and dtype is checked against the others (and, with
    ``expect_task``, against the task) before anything is allocated.  ``expect_task`` (a
    ``TaskSpec`` or ``"suite/task"``) and ``expect_quality`` say what the caller will use the
    file as: the file's labels, sizes and actions must fit (``check_against_task``).
    """
    path = str(path)
    task = task_spec(expect_task) if expect_task is not None else None
    try:
        return _load(path, obs_dtype, task, expect_quality)
    except DatasetError:
        raise
    except MemoryError:
        raise DatasetError(f"{path}: out of memory while loading it "
                           f"({host_memory.available_memory_bytes() / 2**30:.1f} GiB "
                           "available now); free memory or load it with obs_dtype float16") from None
    except RecursionError:
        raise DatasetError(f"{path}: nested too deeply to read (a crafted file?)") from None
    except (OSError, KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
        # h5py / numpy errors from a truncated or hand-made file: name the file and say what broke
        raise DatasetError(f"{path}: cannot be read ({type(exc).__name__}: {str(exc)[:300]}); "
                           "a truncated or corrupt file?") from None


def _load(path: str, obs_dtype, task, expect_quality) -> OfflineDataset:
    """Attributes, then the declared shapes (checked before anything is allocated), then the arrays."""
    with _open_h5(path) as f:
        meta = _read_attributes(f, path)
        declared = _declared_arrays(f, path)
        check_declared(declared, meta, path, obs_dtype)
        if task is not None:
            check_header_against_task({k: v[0] for k, v in declared.items()}, meta, task, expect_quality, path)
        arrays, joined = _read_arrays(f, path, obs_dtype)
    ds = OfflineDataset(**arrays, meta=meta)
    check_dataset(ds, path)
    if task is not None:
        check_against_task(ds, task, expect_quality, path, header_checked=True)
    ds.obs_all, ds.state_all = joined["obs"], joined["state"]
    return ds


def _read_attributes(f, path: str) -> dict:
    """The root attributes as ``meta`` (JSON ones decoded), after the schema version is checked."""
    version = f.attrs.get("schema_version")
    if version != SCHEMA_VERSION:
        raise DatasetError(f"{path}: schema_version is {version!r}, expected {SCHEMA_VERSION}")
    meta = {}
    for k, v in f.attrs.items():
        if isinstance(v, bytes):
            v = v.decode()
        if isinstance(v, str) and v[:1] in "[{":
            v = json_attribute(path, k, v)
        meta[k] = v.item() if isinstance(v, np.generic) else v
    missing = [k for k in _REQUIRED_META if k not in meta]
    if missing:
        raise DatasetError(f"{path}: missing attribute(s) {', '.join(missing)}")
    return meta


def _declared_arrays(f, path: str) -> dict:
    """{array: (shape, dtype)} of the arrays the file holds, each a real array (not a link or group)."""
    for key in _ARRAYS:
        link = root_link_problem(f, key)
        if link is not None:
            raise DatasetError(f"{path}: {link}")
        if key not in f and key not in ("avail", "final_avail"):
            raise DatasetError(f"{path}: missing array '/{key}'")
        if key in f and not isinstance(f[key], h5py.Dataset):
            raise DatasetError(f"{path}: '/{key}' is a group, expected an array")
    return {key: (tuple(f[key].shape), f[key].dtype) for key in _ARRAYS if key in f}


def _read_joined(f, key: str, dtype, path: str) -> np.ndarray:
    """``/key`` and ``/final_key`` into one buffer of ``dtype``, read in 64 MiB chunks."""
    a, b = f[key], f[f"final_{key}"]
    if a.shape[1:] != b.shape[1:]:
        raise DatasetError(f"{path}: {key} {a.shape} and final_{key} {b.shape} differ in shape")
    buf = np.empty((a.shape[0] + b.shape[0],) + a.shape[1:], dtype=dtype)
    step = max(1, (64 << 20) // max(1, int(np.prod(a.shape[1:])) * 4))  # 64 MiB chunks
    for lo in range(0, a.shape[0], step):
        hi = min(lo + step, a.shape[0])
        buf[lo:hi] = a[lo:hi]
    if b.shape[0]:
        buf[a.shape[0]:] = b[()]
    return buf


def _read_arrays(f, path: str, obs_dtype):
    """Every array of the file as ``OfflineDataset`` fields, and the joined observation and state
    buffers (``obs`` / ``final_obs`` and ``state`` / ``final_state`` are views of them)."""
    arrays, joined = {}, {}
    for key in ("obs", "state"):
        dtype = np.dtype(obs_dtype) if (key == "obs" and obs_dtype is not None) else f[key].dtype
        buf = _read_joined(f, key, dtype, path)
        rows = f[key].shape[0]
        joined[key] = buf
        arrays[key], arrays[f"final_{key}"] = buf[:rows], buf[rows:]
    for key in _ARRAYS:
        if key in f and key not in arrays:
            arrays[key] = f[key][()]
    return arrays, joined


def root_link_problem(f, key: str) -> str | None:
    """What is wrong with ``/key`` of an open HDF5 file if it is a soft or external link rather
    than an array stored in the file (a link can loop, ``/obs -> /a -> /obs``, where h5py raises
    a bare RuntimeError, or reach into another file), else None."""
    try:
        link = f.get(key, getlink=True)
    except Exception as exc:  # noqa: BLE001 - h5py raises several kinds for damaged link tables
        return f"'/{key}' cannot be resolved ({type(exc).__name__}: {str(exc)[:200]})"
    if isinstance(link, h5py.SoftLink):
        return (f"'/{key}' is a soft link to '{link.path}', not an array: a dataset file stores its arrays "
                "itself (links can loop or point anywhere)")
    if isinstance(link, h5py.ExternalLink):
        return (f"'/{key}' is an external link to '{link.path}' in {link.filename}, not an array: a dataset file "
                "stores its arrays itself")
    return None


def json_attribute(path, key: str, text: str):
    """An attribute that holds JSON, decoded; text that only looks like JSON stays text.  JSON
    nested beyond Python's recursion limit (``[[[[...]]]]``) is refused naming the attribute."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
    except RecursionError:
        raise DatasetError(f"{path}: attribute {key!r} holds JSON nested too deeply to read "
                           f"({len(text)} characters): not metadata this format writes") from None

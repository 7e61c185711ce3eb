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
the paper's were, "imported" for published datasets read by ``envs/importers.py``).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

try:
    import h5py
except ImportError:  # the workflow's host builds its job graph (memory checks included) without h5py
    h5py = None

from envs.files import atomic_path

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


def load_dataset(path, obs_dtype=None, expect_task=None, expect_quality: Optional[str] = None) -> OfflineDataset:
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
    task = _task_spec(expect_task) if expect_task is not None else None
    try:
        return _load(path, obs_dtype, task, expect_quality)
    except DatasetError:
        raise
    except MemoryError:
        raise DatasetError(f"{path}: out of memory while loading it ({available_memory_bytes() / 2**30:.1f} GiB "
                           "available now); free memory or load it with obs_dtype float16") from None
    except RecursionError:
        raise DatasetError(f"{path}: nested too deeply to read (a crafted file?)") from None
    except (OSError, KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
        # h5py / numpy errors from a truncated or hand-made file: name the file and say what broke
        raise DatasetError(f"{path}: cannot be read ({type(exc).__name__}: {str(exc)[:300]}); "
                           "a truncated or corrupt file?") from None


def _load(path: str, obs_dtype, task, expect_quality) -> OfflineDataset:
    with _open_h5(path) as f:
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
        arrays, joined = {}, {}
        for key in _ARRAYS:
            link = root_link_problem(f, key)
            if link is not None:
                raise DatasetError(f"{path}: {link}")
            if key not in f and key not in ("avail", "final_avail"):
                raise DatasetError(f"{path}: missing array '/{key}'")
            if key in f and not isinstance(f[key], h5py.Dataset):
                raise DatasetError(f"{path}: '/{key}' is a group, expected an array")
        declared = {key: (tuple(f[key].shape), f[key].dtype) for key in _ARRAYS if key in f}
        _check_declared(declared, meta, path, obs_dtype)
        if task is not None:
            problems = _label_problems(meta, task, expect_quality) + _shape_problems(
                {k: v[0] for k, v in declared.items()}, meta, task) + _setting_problems(meta, task)
            if problems:
                raise DatasetError(_fit_message(path, task, problems))
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
    if task is not None:
        check_against_task(ds, task, expect_quality, path, header_checked=True)
    ds.obs_all, ds.state_all = joined["obs"], joined["state"]
    return ds


#: the per-step arrays ([T, ...]) and per-episode arrays ([E, ...]) with their number of dimensions
_STEP_NDIM = {"obs": 3, "state": 2, "reward": 1, "terminated": 1, "truncated": 1, "episode_start": 1, "avail": 3}
_EPISODE_NDIM = {"final_obs": 3, "final_state": 2, "final_avail": 3}


def _physical_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no bound
        return 1 << 62


def _cgroup_available() -> Optional[int]:
    """What a cgroup v2 memory limit (a container, a SLURM job) still allows, or None."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text().strip()))
    except (OSError, ValueError):
        return None


def available_memory_bytes() -> int:
    """Memory that can be allocated now: psutil's ``available`` when installed, else the kernel's
    MemAvailable (``/proc/meminfo``), else physical memory; and no more than a cgroup limit leaves.
    Physical memory alone would let a file that declares more than is free through, and the
    load then dies with a bare ``MemoryError`` (or the OOM killer) naming no file."""
    avail = None
    try:
        import psutil
        avail = int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil is optional
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
    if avail is None:
        avail = _physical_bytes()
    group = _cgroup_available()
    return avail if group is None else min(avail, group)


def machine_memory_bytes() -> int:
    """The most memory one process of this machine can ever hold: physical memory, or less under a
    cgroup limit (a container, a SLURM job).  What a setting needs is judged against it before any
    job (``analysis.config_checks``): a setting past it cannot run here however idle the machine."""
    total = _physical_bytes()
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            total = min(total, int(limit))
    except (OSError, ValueError):
        pass
    return total


def _memory_bytes() -> int:
    return available_memory_bytes()


def root_link_problem(f, key: str) -> Optional[str]:
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


def _check_declared(declared: dict, meta: dict, path: str, obs_dtype=None) -> None:
    """Shapes and dtypes as the file declares them, checked before anything is allocated: a
    crafted header (rows that disagree, 10^12 rows of a gzip of zeros) is refused, not read."""
    def bad(msg):
        raise DatasetError(f"{path}: {msg}")

    for key, ndim in {**_STEP_NDIM, **_EPISODE_NDIM}.items():
        if key in declared and len(declared[key][0]) != ndim:
            bad(f"'/{key}' has shape {declared[key][0]}, expected {ndim} dimensions")
    discrete = meta.get("action_type") == "discrete"
    a_shape = declared["actions"][0]
    if len(a_shape) != (2 if discrete else 3):
        bad(f"'/actions' has shape {a_shape}, expected {'[T, N]' if discrete else '[T, N, A]'} "
            f"for action_type {meta.get('action_type')!r}")
    if discrete and ("avail" not in declared or "final_avail" not in declared):
        bad("discrete dataset without '/avail' / '/final_avail' masks")
    T = declared["reward"][0][0]
    for key in list(_STEP_NDIM) + ["actions"]:
        if key in declared and declared[key][0][0] != T:
            bad(f"'/{key}' declares {declared[key][0][0]} rows, '/reward' {T}: the arrays disagree")
    E = declared["final_obs"][0][0]
    for key in _EPISODE_NDIM:
        if key in declared and declared[key][0][0] != E:
            bad(f"'/{key}' declares {declared[key][0][0]} episodes, '/final_obs' {E}")
    if T < 1 or E < 1 or E > T:
        bad(f"declares {T} transitions and {E} episodes (need 1 <= episodes <= transitions)")
    N = declared["obs"][0][1]
    for key in ("actions", "final_obs", "avail", "final_avail"):
        if key in declared and declared[key][0][1] != N:
            bad(f"'/{key}' declares {declared[key][0][1]} agents, '/obs' {N}")
    for key, other in (("final_obs", "obs"), ("final_state", "state"), ("final_avail", "avail")):
        if key in declared and other in declared and declared[key][0][1:] != declared[other][0][1:]:
            bad(f"{other} {declared[other][0]} and {key} {declared[key][0]} differ in shape")
    for key, (shape, dtype) in declared.items():
        kinds = "b" if key in ("terminated", "truncated", "episode_start", "avail", "final_avail") else \
            ("iu" if key == "actions" and discrete else "f")
        if dtype.kind not in kinds and not (kinds == "b" and dtype.kind in "iu"):
            expected = 'bool' if kinds == 'b' else 'integer' if kinds == 'iu' else 'float'
            bad(f"'/{key}' has dtype {dtype}, expected {expected}")
    nbytes = sum(int(np.prod(shape, dtype=np.float64)) * dtype.itemsize for shape, dtype in declared.values())
    if obs_dtype is not None:
        nbytes -= int(np.prod(declared["obs"][0]) + np.prod(declared["final_obs"][0])) * (
            declared["obs"][1].itemsize - np.dtype(obs_dtype).itemsize)
    free = _memory_bytes()
    if nbytes > free:
        bad(f"declares {nbytes / 2**30:.1f} GiB of arrays, more than the memory available now "
            f"({free / 2**30:.1f} GiB of {_physical_bytes() / 2**30:.1f} GiB): refusing to allocate")


# -- the dataset against the task it is used for -----------------------------------------------

def _task_spec(task):
    if isinstance(task, str):
        from envs.registry import get_task
        try:
            return get_task(task)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
    return task


def _label_problems(meta: dict, task, quality: Optional[str]) -> list:
    """The file's suite / task / quality attributes against what the caller uses it as."""
    from envs.registry import _norm

    out = []
    if meta.get("suite") != task.suite:
        out.append(f"suite attribute is {meta.get('suite')!r}, expected {task.suite!r}")
    if _norm(str(meta.get("task", ""))) != _norm(task.name):
        out.append(f"task attribute is {meta.get('task')!r}, expected {task.name!r}")
    if quality is not None and meta.get("quality") != quality:
        out.append(f"quality attribute is {meta.get('quality')!r}, expected {quality!r} "
                   "(a file labelled with another quality would be tabulated in the wrong row)")
    return out


def _shape_problems(shapes: dict, meta: dict, task) -> list:
    """Agents, observation / state / action sizes and the action type against the task."""
    out = []
    if meta.get("action_type") != task.action_type:
        out.append(f"action_type is {meta.get('action_type')!r}, the task's is {task.action_type!r}")
        return out
    N = shapes["obs"][1]
    if N != task.n_agents:
        out.append(f"{N} agents, the task has {task.n_agents}")
    expect_obs = expected_obs_dim(task, meta)
    if shapes["obs"][2] != expect_obs:
        hint = ""
        if not task.discrete and shapes["obs"][2] == task.state_dim + task.n_agents:
            hint = (" -- the width of the full state plus a one-hot agent id (the paper's MaMuJoCo layout, "
                    "obs_layout 'authors'); use the task with that observation or data recorded with the task's own")
        out.append(f"observation size {shapes['obs'][2]}, the task's is {expect_obs}"
                   + (f" ({task.obs_layout} observations)" if getattr(task, "obs_layout", None) else "") + hint)
    if shapes["state"][1] != task.state_dim:
        out.append(f"state size {shapes['state'][1]}, the task's is {task.state_dim}")
    if task.discrete:
        A = shapes["avail"][2] if shapes.get("avail") is not None else None
        if A is not None and A != task.action_dim:
            out.append(f"{A} discrete actions (avail mask width), the task has {task.action_dim}")
    elif shapes["actions"][2] != task.action_dim:
        out.append(f"action size {shapes['actions'][2]} per agent, the task's is {task.action_dim}")
    return out


def expected_obs_dim(task, meta: Optional[dict] = None) -> int:
    """The observation width a dataset of ``task`` must have (the task's, which already
    reflects any observation-layout option of the task)."""
    return int(task.obs_dim)


def action_bound(meta: dict) -> float:
    """Largest |action| a continuous dataset may hold: 1 (MaMuJoCo's [-1, 1]) times the
    ``action_scale`` an imported file records (the paper's files store actions x 4)."""
    scale = meta.get("action_scale", 1.0)
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        raise DatasetError(f"action_scale attribute {scale!r} is not a number") from None
    if not np.isfinite(scale) or scale <= 0:
        raise DatasetError(f"action_scale attribute is {scale}, expected a positive number")
    return scale


def _value_problems(ds: "OfflineDataset", task) -> list:
    """What only the values show: discrete actions in range and available, continuous bounds."""
    out = []
    if task.discrete and ds.discrete:
        if ds.actions.size and (ds.actions.min() < 0 or ds.actions.max() >= task.action_dim):
            out.append(f"discrete actions span [{int(ds.actions.min())}, {int(ds.actions.max())}], "
                       f"the task's are 0..{task.action_dim - 1}")
    elif not task.discrete and not ds.discrete:
        bound = action_bound(ds.meta)
        worst = float(np.abs(ds.actions).max()) if ds.actions.size else 0.0
        if worst > bound * (1 + 1e-5):
            out.append(f"continuous actions reach |a| = {worst:.4g}, beyond the bound {bound:g} "
                       f"([-1, 1] x action_scale {bound:g})")
    return out


def _fit_message(where: str, task, problems: list) -> str:
    return f"{where}: does not fit task {task.id}: " + "; ".join(problems)


def dataset_obs_layout(meta: dict) -> Optional[str]:
    """The observation layout a dataset records (``obs_layout``: ``authors`` | ``local`` | ``native``),
    with the importers' description of the authors' MaMuJoCo observation read as ``authors``;
    None when the file does not say (older files: their width alone is checked)."""
    layout = meta.get("obs_layout")
    if not isinstance(layout, str) or layout in ("", "as stored"):
        return None
    if layout.startswith("state + one-hot agent id"):
        return "authors"
    return layout


def _obs_layout_problems(meta: dict, task) -> list:
    """A dataset made with one MaMuJoCo observation layout is refused for a task configured with
    the other, naming both (``envs/spec.py`` ``MAMUJOCO_OBS_LAYOUTS``) and the setting that
    chooses (the config's ``simulators.mamujoco_obs``)."""
    have, want = dataset_obs_layout(meta), getattr(task, "obs_layout", None)
    if have is None or want is None or have == want:
        return []
    return [f"observation layout '{have}', the task is configured with '{want}' (set the config key "
            f"simulators.mamujoco_obs: {have} -- or get_task(..., obs_layout='{have}') "
            f"outside the workflow -- to use this file, or remake the data with '{want}')"]


def _backend_problems(meta: dict, task) -> list:
    """A dataset a simulator made (not an imported one) is refused for a task configured with
    another backend (SMAX data for a StarCraft II task), naming the setting that chooses (the
    config's ``simulators.smac_backend``)."""
    from envs.suites import BACKENDS

    have, want = meta.get("backend"), getattr(task, "backend", None)
    if have not in BACKENDS or want is None or have == want:
        return []
    return [f"made with backend '{have}', the task is configured with '{want}' (set the config key "
            f"simulators.smac_backend: {have} -- or get_task(..., backend='{have}') "
            f"outside the workflow -- to use this file, or remake the data with '{want}')"]


def _setting_problems(meta: dict, task) -> list:
    """What the attributes alone show: the dataset was made with another backend or observation
    layout than the task is configured with (the config's ``simulators`` settings)."""
    return _obs_layout_problems(meta, task) + _backend_problems(meta, task)


def _shape_check(ds, task) -> list:
    return _shape_problems({"obs": ds.obs.shape, "state": ds.state.shape, "actions": ds.actions.shape,
                            "avail": None if ds.avail is None else ds.avail.shape}, ds.meta, task)


def _setting_check(ds, task) -> list:
    return _setting_problems(ds.meta, task)


#: checks of a dataset against the task it is used for: each ``check(ds, task) -> [problems]``.
#: Append to extend; ``check_against_task`` runs them all.
TASK_CHECKS = [_shape_check, _value_problems, _setting_check]
#: the checks ``load_dataset`` makes from the file's header before reading its arrays (with the
#: labels): after reading, only the others run, so that no check runs twice per load
HEADER_CHECKS = (_shape_check, _setting_check)


def check_against_task(ds: "OfflineDataset", task, quality: Optional[str] = None, where: str = "<dataset>",
                       header_checked: bool = False) -> None:
    """Refuse a dataset that does not fit ``task`` (a ``TaskSpec`` or ``"suite/task"``), naming
    ``where`` (the file) and every problem: its suite / task / quality labels (``quality``
    None: not checked), agents, observation / state / action sizes, the action type, discrete
    actions outside the task's range or unavailable, continuous actions beyond [-1, 1] x the
    recorded ``action_scale``.  Runs every function in ``TASK_CHECKS`` (``header_checked``: those
    ``load_dataset`` has not run from the file's header already, and not the labels)."""
    task = _task_spec(task)
    problems = [] if header_checked else _label_problems(ds.meta, task, quality)
    try:
        for check in TASK_CHECKS:
            if header_checked and check in HEADER_CHECKS:
                continue
            problems += check(ds, task)
    except DatasetError as exc:
        problems.append(str(exc))
    if problems:
        raise DatasetError(_fit_message(where, task, problems))


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

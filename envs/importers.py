"""Importers: the paper's published datasets into our HDF5 format (``envs/dataset.py``).

Anyone holding the files the paper trained on can rerun the benchmark on them::

    ds = import_comadice_npz("5m_vs_6m_good.npz", get_task("smacv1/5m_vs_6m"), "good")
    write_dataset(ds, "results/datasets/smacv1/5m_vs_6m/good.h5")

(or ``workflow/scripts/import_dataset.py``).  Three layouts, each read as the public code that
consumes it reads it:

``comadice-npz`` -- the paper's code (github.com/vietbt/ComaDICE, ``runner/data.py`` and the
    ``load_smac_data`` / ``load_mamujoco_data`` it calls in ``runner/utils.py``).  One ``.npz`` per
    (task, quality), padded per trajectory; ``n`` trajectories, ``T`` time slots, ``N`` agents:

    - SMAC: ``states`` [n, T+1, S] or per agent [n, T+1, N, S]; ``obs`` [n, T+1, N, O];
      ``avails`` [n, T+1, N, A]; ``actions`` [n, T, N] or [n, T, N, 1]; ``rewards``, ``dones``,
      ``actives`` [n, T] or per agent [n, T, N].  Their loader takes ``states[:, :-1][actives]``
      (so the T+1-th slot holds the observation after a trajectory's last step) and
      ``actions[actives]`` (T slots).  It ignores ``dones``: its trainer
      (``runner/madice/discrete.py``) treats a step as terminal where the next state equals the
      state, i.e. the files repeat the last state after an episode's end.
    - MaMuJoCo: ``states`` [n, T+1, (N,) S], ``obs`` [n, T+1, N, O], ``actions`` [n, T+1, N, A]
      (the loader uses ``actions[:, :-1]``), ``rewards`` / ``dones`` / ``actives`` [n, T];
      ``masks = 1 - dones``.  ``MaMujocoDataset`` divides the actions by ``action_scale = 4.0``
      when loading and its rollout (``runner/evaluate.py``) multiplies the tanh policy's output by
      4: the files hold actions at the environment's scale.  We keep them as stored and record
      ``action_scale = 4.0`` in the metadata; nothing is rescaled.

``omiga-hdf5`` -- OMIGA's MaMuJoCo files (github.com/ZhengYinan-AIR/OMIGA,
    ``datasets/offline_dataset.py``; the same download as the paper's MaMuJoCo data).  Keys ``s``,
    ``o`` [R, N, D], ``a`` [R, N, A], ``r`` [R, 1], ``d`` [R, 1], flat in time (R rows).  The
    loader keeps rows with ``d = 0`` as transitions to row t+1 with mask ``1 - d[t+1]``: a row with
    ``d = 1`` is the observation after an episode's last step (its action and reward are never
    used) and the next row starts the next episode -- a 1000-step episode takes 1001 rows (a
    HalfCheetah file has 1 001 000 rows and 1000 flags).  The time-limit end is therefore stored
    exactly like a fall, and bootstraps with mask 0 in their code.  ``o`` (and ``s``, the same
    values) is the full MuJoCo observation plus a one-hot agent id, standardised per vector
    (``envs/mamujoco/multiagent_mujoco/mujoco_multi.py`` ``get_obs`` in the ComaDICE repo).

``madt`` -- MADT's SMAC episodes (github.com/ReinholdM/Offline-Pre-trained-Multi-Agent-Decision-
    Transformer, ``sc2/framework/buffer.py``; OMIGA's ``framework/utils.py`` reads the 1000-episode
    samples the paper's SMACv1 link serves).  One file per episode, read with ``torch.load``: a list
    over agents of lists over time of ``[state, obs, action, reward, done, avail]`` with action
    ``[a]``, reward ``[r]`` (the team reward, the same for every agent) and ``done`` per agent
    (MAPPO's StarCraft2_Env sets it when the battle or the time limit ends the episode *and* when
    that agent dies).  The observation after the last step is not stored; their loader repeats the
    last one, and so do we.  Their loaders list the files with ``glob`` (file-system order); we
    sort the names (digit runs compared as numbers: ``ep_2`` before ``ep_10``).

Decisions (recorded in every file's ``provenance``):

- *Terminated vs truncated*.  An episode of ``task.episode_limit`` steps is **truncated** (it
  bootstraps): SMAC and MaMuJoCo set ``done`` at the time limit too, so at that length the flag
  cannot tell a decided battle (or a fall) from the clock, and the clock is by far the likelier.
  A shorter episode whose done flag is set on its last step (for per-agent flags: every agent's)
  is **terminated**; a shorter one without the flag (a cut recording) is truncated.  An episode
  longer than the limit is refused: the data and the task do not match.
- *Episodes in OMIGA's files* come from the ``d`` flags alone (every episode end, time limit
  included, carries one); the 1000-step limit only decides terminated vs truncated.  Rows after
  the last flag form one more, truncated, episode (their loader trains on them too).
- *State*.  The sources store one state per agent (MAPPO's agent-specific SMAC state, or
  MaMuJoCo's state + id standardised for each agent); the paper's mixers (and OMIGA's) take the
  agents' states concatenated.  Where the copies are identical we keep one; otherwise the state is
  their concatenation in agent order (``state_layout`` in the provenance).
- Observation, state and action sizes are the source's, which can differ from the registry's
  simulator (SMAX, MuJoCo v5 local observations); ``obs_layout`` says what the observation is, and
  :func:`state_id_obs` rebuilds the MaMuJoCo one from a raw state for evaluation.

Each importer returns an :class:`OfflineDataset` with grade ``"imported"``, backend ``"imported"``
and a provenance naming the layout, the source file name(s) and the source's sha256 (for a
directory: the sha256 over the sorted files' sha256 digests).  A malformed source raises
:class:`DatasetError` naming the file and the problem.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Union

import numpy as np

from envs.dataset import (
    DatasetError,
    OfflineDataset,
    available_memory_bytes,
    check_against_task,
    file_sha256,
    from_episodes,
    root_link_problem,
    validate,
)
from envs.registry import TaskSpec, check_quality, get_task

LAYOUTS = ("comadice-npz", "omiga-hdf5", "madt")

#: the public code that defines each layout (repository, file)
REFERENCES = {
    "comadice-npz": "vietbt/ComaDICE runner/data.py, runner/utils.py",
    "omiga-hdf5": "ZhengYinan-AIR/OMIGA datasets/offline_dataset.py",
    "madt": "ReinholdM/Offline-Pre-trained-Multi-Agent-Decision-Transformer sc2/framework/buffer.py",
}

#: ComaDICE's MaMujocoDataset divides the stored actions by this (runner/data.py)
COMADICE_ACTION_SCALE = 4.0

ENDING_RULE = ("an episode of episode_limit steps is truncated (done is set at the time limit too); "
               "a shorter one is terminated if its last step is done (every agent's), else truncated")

TaskLike = Union[TaskSpec, str]


# ----------------------------------------------------------------------------- shared helpers

def _fail(where, msg):
    raise DatasetError(f"{where}: {msg}")


def _need_file(where: str, what: str) -> None:
    """Refuse a path that is not a regular file, saying what it is instead."""
    if os.path.isdir(where):
        _fail(where, f"is a directory, not {what}")
    if not os.path.exists(where):
        _fail(where, "no such file")
    if not os.path.isfile(where):
        _fail(where, f"not a regular file (a device or pipe?), not {what}")
    if os.path.getsize(where) == 0:
        _fail(where, f"empty file (0 bytes), not {what}")


#: how the files of each layout begin: an .npz is a zip archive, HDF5 has its 8-byte signature
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _describe_start(where: str) -> str:
    with open(where, "rb") as f:
        head = f.read(64)
    if head[:1] in (b"\x80",):
        return "a Python pickle"
    if head.startswith(_HDF5_MAGIC):
        return "an HDF5 file"
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"binary data starting {head[:8]!r}"
    return f"text starting {text[:24]!r}"


def _task(task: TaskLike) -> TaskSpec:
    return get_task(task) if isinstance(task, str) else task


def _finite(arr: np.ndarray, where, key: str) -> None:
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != bool:
        _fail(where, f"'{key}' has dtype {arr.dtype}, expected numbers")
    if np.issubdtype(arr.dtype, np.floating):
        flat = arr.reshape(arr.shape[0], -1) if arr.ndim else arr.reshape(1)
        for lo in range(0, flat.shape[0], 4096):
            if not np.isfinite(flat[lo:lo + 4096]).all():
                _fail(where, f"'{key}' contains NaN or infinity")


def _flags(arr: np.ndarray, where, key: str) -> np.ndarray:
    """0/1 (or bool) values as bool; anything else is refused."""
    if arr.dtype == bool:
        return arr
    _finite(arr, where, key)
    if not np.isin(arr, (0, 1)).all():
        _fail(where, f"'{key}' holds values other than 0 and 1")
    return arr.astype(bool)


def _agent_axis(arr: np.ndarray, where, key: str, lead: tuple, n_agents: int) -> np.ndarray:
    """A per-step array stored as ``lead``, ``lead + (1,)`` or per agent ``lead + (N,)``:
    returned as ``lead + (k,)`` with k = 1 or N."""
    if arr.shape == lead:
        return arr[..., None]
    if arr.ndim == len(lead) + 1 and arr.shape[:-1] == lead and arr.shape[-1] in (1, n_agents):
        return arr
    _fail(where, f"'{key}' has shape {arr.shape}, expected {list(lead)} or per agent {list(lead + (n_agents,))}")


def _ends_terminated(length: int, done_last: bool, limit: int) -> bool:
    """See the module doc: the time limit truncates, a done flag before it terminates."""
    return bool(done_last) and length < limit


def _check_length(length: int, limit: int, where, what: str) -> None:
    if length > limit:
        _fail(where, f"{what} has {length} steps, more than the task's episode limit of {limit} "
                     "(is --task the task of this file?)")


def _obs_layout(obs: np.ndarray, n_agents: int) -> str:
    """Say whether observations look like state + one-hot agent id standardised per vector."""
    sample = obs[: min(len(obs), 256)].reshape(-1, obs.shape[-1]).astype(np.float64)
    if sample.shape[-1] <= n_agents:
        return "as stored"
    standardised = (np.abs(sample.mean(-1)) < 1e-3).all() and (np.abs(sample.std(-1) - 1) < 1e-3).all()
    if standardised:
        ids = sample[:, -n_agents:]
        # one entry of the id block is (1 - mean) / std, the others -mean / std: one distinct value
        lifted = (ids > ids.min(-1, keepdims=True) + 1e-6).sum(-1)
        if (lifted == 1).all():
            return "state + one-hot agent id, standardised per vector (see state_id_obs)"
    return "as stored"


def state_id_obs(state: np.ndarray, n_agents: int) -> np.ndarray:
    """The MaMuJoCo observation of OMIGA's and ComaDICE's data from raw MuJoCo states:
    ``[..., S] -> [..., N, S + N]``, each agent's row the state plus its one-hot id,
    standardised over the vector (population std), as their environments' ``get_obs``."""
    state = np.asarray(state, dtype=np.float64)
    ids = np.broadcast_to(np.eye(n_agents), state.shape[:-1] + (n_agents, n_agents))
    rows = np.concatenate([np.broadcast_to(state[..., None, :], state.shape[:-1] + (n_agents, state.shape[-1])),
                           ids], axis=-1)
    return ((rows - rows.mean(-1, keepdims=True)) / rows.std(-1, keepdims=True)).astype(np.float32)


def _finish(episodes: list, task: TaskSpec, quality: str, provenance: dict, where, extra_meta=None):
    if not episodes:
        _fail(where, "no episode with at least one step")
    per_agent = [e for e in episodes if e["state"].ndim == 3]
    dims = per_agent[0]["state"].shape[1:] if per_agent else None
    provenance["state_layout"] = _state_join(episodes, dims)
    counts = {"terminated": sum(bool(e["terminated"]) for e in episodes)}
    counts["truncated"] = len(episodes) - counts["terminated"]
    provenance.update(episodes=len(episodes), transitions=int(sum(len(e["reward"]) for e in episodes)),
                      **counts, ending_rule=ENDING_RULE)
    meta = {"suite": task.suite, "task": task.name, "quality": quality, "backend": "imported",
            "backend_version": provenance["layout"], "action_type": task.action_type,
            "n_agents": task.n_agents, "approximation": False, "grade": "imported",
            "provenance": provenance}
    meta.update(extra_meta or {})
    ds = from_episodes(episodes, meta)
    validate(ds, str(where))  # a problem found only now still names the source file
    # the same checks training makes, before anything is written: agents, sizes, action range / bounds
    check_against_task(ds, task, quality, str(where))
    return ds


def _state_join(episodes: list, dims) -> str:
    if dims is None:
        return "one state shared by the agents"
    n_agents, size = dims
    if n_agents >= 2 and all(_obs_layout(e["state"], n_agents).startswith("state + one-hot") for e in episodes):
        # the authors' MaMuJoCo files store every agent's standardised state + id as its
        # "state": the raw state is recovered exactly (envs/mamujoco_backend.py)
        from envs.mamujoco_backend import state_from_authors_observation
        for e in episodes:
            e["state"] = state_from_authors_observation(e["state"], n_agents).astype(np.float32)
        return (f"per agent in the source as state + one-hot id standardised per vector ({n_agents} x {size}): "
                f"the raw state (size {size - n_agents}) recovered from agent 0's row")
    identical = all((e["state"] == e["state"][:, :1]).all() for e in episodes)
    for e in episodes:
        st = e["state"]
        e["state"] = st[:, 0] if identical else st.reshape(st.shape[0], -1)
    if identical:
        return f"per agent in the source, identical across agents: one copy kept (size {size})"
    return f"per agent in the source ({n_agents} x {size}), concatenated in agent order (size {n_agents * size})"


def _file_provenance(layout: str, path) -> dict:
    return {"layout": layout, "reference": REFERENCES[layout], "source": os.path.basename(str(path)),
            "source_bytes": os.path.getsize(path), "source_sha256": file_sha256(path)}


# ----------------------------------------------------------------------------- comadice-npz

def import_comadice_npz(path, task: TaskLike, quality: str) -> OfflineDataset:
    """The paper's ``.npz`` layout (SMAC or MaMuJoCo by ``task``): padding stripped with ``actives``."""
    task, where = _task(task), str(path)
    check_quality(task, quality)
    _need_file(where, "the paper's .npz dataset file")
    with open(where, "rb") as fh:
        if fh.read(4) not in _ZIP_MAGIC:
            _fail(where, f"not an .npz file (a zip archive of .npy arrays): it is {_describe_start(where)}")
    need = ["states", "obs", "actions", "rewards", "dones", "actives"] + (["avails"] if task.discrete else [])
    try:
        with np.load(where, allow_pickle=False) as z:
            missing = [k for k in need if k not in z.files]
            if missing:
                _fail(where, f"missing key(s) {', '.join(missing)} (the {task.suite} layout has {', '.join(need)})")
            data = {k: z[k] for k in need}
    except DatasetError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            _fail(where, "an array holds pickled Python objects; refusing to unpickle (expected numeric arrays)")
        _fail(where, f"not a readable .npz file ({exc})")
    except Exception as exc:  # noqa: BLE001 - zip / OS / format errors: the file is unreadable
        _fail(where, f"not a readable .npz file ({type(exc).__name__}: {exc})")

    obs, N = data["obs"], task.n_agents
    if obs.ndim != 4 or obs.shape[2] != N:
        _fail(where, f"'obs' has shape {obs.shape}, expected [n, T+1, N={N}, O]")
    n, T1 = obs.shape[:2]
    T = T1 - 1
    lead = (n, T)
    if data["rewards"].shape[:2] != lead:
        _fail(where, f"'rewards' has shape {data['rewards'].shape}, expected [n={n}, T={T}] "
                     f"(one slot fewer than the {T1} of 'obs')")
    rewards = _agent_axis(data["rewards"], where, "rewards", lead, N)
    dones = _flags(_agent_axis(data["dones"], where, "dones", lead, N), where, "dones")
    actives = _flags(_agent_axis(data["actives"], where, "actives", lead, N), where, "actives")
    if not (actives == actives[..., :1]).all():
        i = int(np.argwhere(~(actives == actives[..., :1]).all(-1))[0][0])
        _fail(where, f"'actives' differ between agents in trajectory {i}")
    actives = actives[..., 0]
    states = data["states"]
    if not (states.ndim == 3 and states.shape[:2] == (n, T1)) and \
            not (states.ndim == 4 and states.shape[:3] == (n, T1, N)):
        _fail(where, f"'states' has shape {states.shape}, expected [n={n}, T+1={T1}, S] or [n, T+1, N={N}, S]")
    actions, action_slots = data["actions"], None
    if actions.shape[:3] in ((n, T, N), (n, T1, N)):
        action_slots = actions.shape[1]
    if task.discrete:
        if action_slots is None or not (actions.ndim == 3 or (actions.ndim == 4 and actions.shape[3] == 1)):
            _fail(where, f"'actions' has shape {actions.shape}, expected [n={n}, T={T}, N={N}] or [n, T, N, 1]")
        actions = actions.reshape(actions.shape[:3])
        avails = data["avails"]
        if avails.ndim != 4 or avails.shape[:3] != (n, T1, N):
            _fail(where, f"'avails' has shape {avails.shape}, expected [n={n}, T+1={T1}, N={N}, A]")
        avails = _flags(avails, where, "avails")
        _finite(actions, where, "actions")
        if not (actions == np.round(actions)).all():
            _fail(where, "'actions' holds non-integer values")
        if actions.min() < 0 or actions.max() >= avails.shape[3]:
            _fail(where, f"'actions' outside [0, {avails.shape[3]}) (A from 'avails')")
        actions = actions.astype(np.int64)
    else:
        if action_slots is None or actions.ndim != 4:
            _fail(where, f"'actions' has shape {actions.shape}, expected [n={n}, T+1={T1}, N={N}, A]")
        if actions.shape[3] != task.action_dim:
            _fail(where, f"'actions' have {actions.shape[3]} components per agent, task {task.id} has "
                         f"{task.action_dim}")
        _finite(actions, where, "actions")
    for key, arr in (("obs", obs), ("states", states), ("rewards", rewards)):
        _finite(arr, where, key)

    episodes, empty, reward_differs, final_repeats = [], 0, 0, 0
    for i in range(n):
        L = int(actives[i].sum())
        if L == 0:
            empty += 1
            continue
        if not actives[i, :L].all():
            _fail(where, f"trajectory {i}: 'actives' is not a prefix (inactive slot inside the trajectory)")
        _check_length(L, task.episode_limit, where, f"trajectory {i}")
        r = rewards[i, :L]
        reward_differs += int(not (r == r[:, :1]).all())
        ep = {"obs": obs[i, :L + 1], "state": states[i, :L + 1], "actions": actions[i, :L],
              "reward": r[:, 0],
              "terminated": _ends_terminated(L, dones[i, L - 1].all(), task.episode_limit)}
        if task.discrete:
            ep["avail"] = avails[i, :L + 1]
        final_repeats += int(np.array_equal(obs[i, L], obs[i, L - 1]))
        episodes.append(ep)

    prov = _file_provenance("comadice-npz", where)
    prov.update(trajectories_in_file=n, time_slots=T, empty_trajectories_skipped=empty,
                action_slots=action_slots, final_obs_repeats_last=final_repeats,
                rewards_differ_between_agents=reward_differs,
                obs_layout=_obs_layout(obs[actives[:, 0], 0], N) if not task.discrete else "as stored")
    if reward_differs:
        prov["reward_note"] = "per-agent rewards differ: agent 0's kept as the team reward"
    extra = {}
    if not task.discrete:
        extra["action_scale"] = COMADICE_ACTION_SCALE
        prov["action_scale_note"] = ("actions kept as stored (environment scale); the paper's loader divides "
                                     "them by action_scale and its rollout multiplies the tanh policy by it")
        prov["max_abs_action"] = float(np.abs(actions[:, :T][actives]).max()) if actives.any() else 0.0
    return _finish(episodes, task, quality, prov, where, extra)


# ----------------------------------------------------------------------------- omiga-hdf5

def import_omiga_hdf5(path, task: TaskLike, quality: str) -> OfflineDataset:
    """OMIGA's MaMuJoCo HDF5 (s, o, a, r, d flat in time); time-limit ends become truncations."""
    import h5py

    task, where = _task(task), str(path)
    check_quality(task, quality)
    _need_file(where, "an OMIGA HDF5 dataset file")
    with open(where, "rb") as fh:
        if fh.read(8) != _HDF5_MAGIC:
            _fail(where, f"not an HDF5 file: it is {_describe_start(where)}")
    try:
        f = h5py.File(where, "r")
    except OSError as exc:
        _fail(where, f"not a readable HDF5 file ({exc})")
    with f:
        for k in ("s", "o", "a", "r", "d"):
            link = root_link_problem(f, k)
            if link is not None:
                _fail(where, link)
        missing = [k for k in ("s", "o", "a", "r", "d") if k not in f]
        if missing:
            _fail(where, f"missing key(s) {', '.join(missing)} (OMIGA's layout has s, o, a, r, d)")
        groups = [k for k in ("s", "o", "a", "r", "d") if not isinstance(f[k], h5py.Dataset)]
        if groups:
            _fail(where, f"'{groups[0]}' is a group, expected an array")
        declared = sum(int(np.prod(f[k].shape, dtype=np.float64)) * f[k].dtype.itemsize
                       for k in ("s", "o", "a", "r", "d"))
        free = available_memory_bytes()
        if declared > free:
            _fail(where, f"declares {declared / 2**30:.1f} GiB of arrays, more than the memory available now "
                         f"({free / 2**30:.1f} GiB): refusing to allocate")
        try:
            s, o, a, r, d = (np.asarray(f[k]) for k in ("s", "o", "a", "r", "d"))
        except MemoryError:
            _fail(where, "out of memory reading its arrays")
        except (OSError, TypeError, ValueError, RuntimeError) as exc:
            _fail(where, f"an array cannot be read ({exc})")
    N = task.n_agents
    if o.ndim != 3 or o.shape[1] != N:
        _fail(where, f"'o' has shape {o.shape}, expected [rows, N={N}, D]")
    R = o.shape[0]
    if R < 2:
        _fail(where, f"{R} row(s): not even one transition")
    if not ((s.ndim == 3 and s.shape[:2] == (R, N)) or (s.ndim == 2 and s.shape[0] == R)):
        _fail(where, f"'s' has shape {s.shape}, expected [rows={R}, N={N}, D] or [rows, S]")
    if a.ndim != 3 or a.shape[:2] != (R, N):
        _fail(where, f"'a' has shape {a.shape}, expected [rows={R}, N={N}, A]")
    if a.shape[2] != task.action_dim:
        _fail(where, f"'a' has {a.shape[2]} components per agent, task {task.id} has {task.action_dim}")
    r = _agent_axis(r, where, "r", (R,), N)
    d = _flags(_agent_axis(d, where, "d", (R,), N), where, "d")
    if not (d == d[:, :1]).all():
        _fail(where, f"'d' differs between agents at row {int(np.argwhere(~(d == d[:, :1]).all(-1))[0][0])}")
    d = d[:, 0]
    for key, arr in (("s", s), ("o", o), ("a", a), ("r", r)):
        _finite(arr, where, key)

    # a row with d = 1 is the observation after an episode's last step; the next row starts the next
    ends = np.flatnonzero(d)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    segments = list(zip(starts.tolist(), ends.tolist()))
    tail_start = int(ends[-1]) + 1 if len(ends) else 0
    tail_rows = R - tail_start
    if tail_rows >= 2:  # an unfinished episode: its last row is the last observation recorded
        segments.append((tail_start, R - 1))
    limit, episodes, reward_differs = task.episode_limit, [], 0
    for k, (lo, hi) in enumerate(segments):
        L = hi - lo  # rows lo..hi are observations; the transitions are lo..hi-1
        if L < 1:
            _fail(where, f"row {hi} has d = 1 right after {'the start of the file' if hi == 0 else 'another d = 1'}: "
                         "an episode without a step")
        _check_length(L, limit, where, f"episode {k} (rows {lo}-{hi})")
        rr = r[lo:hi]
        reward_differs += int(not (rr == rr[:, :1]).all())
        finished = bool(d[hi])
        episodes.append({"obs": o[lo:hi + 1], "state": s[lo:hi + 1], "actions": a[lo:hi], "reward": rr[:, 0],
                         "terminated": _ends_terminated(L, finished, limit)})
    time_limit_ends = sum(1 for lo, hi in segments if hi - lo == limit and d[hi])
    prov = _file_provenance("omiga-hdf5", where)
    prov.update(rows=R, d_flags=int(len(ends)),
                episode_inference="a row with d = 1 is the observation after an episode's last step; "
                                  "the next row starts the next episode",
                time_limit_ends_made_truncated=time_limit_ends,
                unfinished_tail_rows=int(tail_rows),
                tail_note=("rows after the last d = 1 kept as one truncated episode" if tail_rows >= 2 else
                           "one row after the last d = 1 dropped (no transition)" if tail_rows == 1 else "none"),
                rewards_differ_between_agents=reward_differs,
                obs_layout=_obs_layout(o, N))
    return _finish(episodes, task, quality, prov, where)


# ----------------------------------------------------------------------------- madt

def _natural_key(name: str):
    parts = re.split(r"(\d+)", name)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p) + ((2, 0, name),)


def _numpy_safe_globals() -> list:
    from envs.files import numpy_safe_globals

    return numpy_safe_globals()


def _torch_load(p: Path):
    """torch.load that cannot run code: ``weights_only=True`` (a restricted unpickler) allowing
    tensors, containers, numbers and numpy arrays / scalars only.  A pickle that names anything
    else (the way a crafted file runs code: ``os.system``, ``eval``, ...) is refused, unexecuted.
    There is deliberately no way to lift this: the files come from downloads."""
    import pickle

    import torch

    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "WeightsUnpickler" not in text:
            _fail(p, f"not readable with torch.load ({text[:200]})")
        lines = [ln.strip() for ln in text.split("WeightsUnpickler error:", 1)[1].splitlines() if ln.strip()]
        reason = lines[0][:200] if lines else "refused"
        if "global" in reason.lower() or "allowlist" in reason.lower():
            _fail(p, f"refused: it holds Python objects other than lists, numbers and numpy arrays ({reason}); "
                     "unpickling them could run code from the file, so it is not loaded")
        _fail(p, f"not readable with torch.load's safe loader ({reason}): a corrupt file, or a pickle of "
                 "objects other than lists, numbers and arrays")
    except Exception as exc:  # noqa: BLE001 - zip / pickle / OS errors: unreadable
        _fail(p, f"not readable with torch.load ({type(exc).__name__}: {str(exc)[:200]})")


def _madt_episode(p: Path, data, task: TaskSpec) -> dict:
    N = task.n_agents
    if not isinstance(data, (list, tuple)) or len(data) != N:
        size = len(data) if hasattr(data, "__len__") else "?"
        _fail(p, f"expected a list over the task's {N} agents, got {type(data).__name__} of length {size}")
    if not all(isinstance(ag, (list, tuple)) for ag in data):
        _fail(p, "an agent's trajectory is not a list of steps")
    lengths = [len(ag) for ag in data]
    if min(lengths) < 1 or len(set(lengths)) != 1:
        _fail(p, f"the agents' trajectories have different or zero lengths {lengths}")
    L = lengths[0]
    for j, ag in enumerate(data):
        for t, step in enumerate(ag):
            if not isinstance(step, (list, tuple)) or len(step) != 6:
                _fail(p, f"agent {j} step {t} is not [state, obs, action, reward, done, avail] "
                         f"(got {type(step).__name__} of length {len(step) if hasattr(step, '__len__') else '?'})")

    def field(k, name, dtype=np.float64):
        try:
            arr = np.asarray([[np.asarray(ag[t][k], dtype=dtype).reshape(-1) for ag in data] for t in range(L)])
        except (TypeError, ValueError) as exc:
            _fail(p, f"'{name}' entries are not numbers of one size across agents and steps ({str(exc)[:120]})")
        if arr.dtype == object or arr.ndim != 3:
            _fail(p, f"'{name}' entries differ in size across agents or steps")
        return arr  # [L, N, k]

    state, obs, action, reward = field(0, "state"), field(1, "obs"), field(2, "action"), field(3, "reward")
    done, avail = field(4, "done"), field(5, "avail")
    for key, arr in (("state", state), ("obs", obs), ("action", action), ("reward", reward),
                     ("done", done), ("avail", avail)):
        _finite(arr, p, key)
    if action.shape[2] != 1 or reward.shape[2] != 1 or done.shape[2] != 1:
        _fail(p, "action, reward and done must be one number per agent and step")
    done = _flags(done[..., 0], p, "done")
    avail = _flags(avail, p, "avail")
    action = action[..., 0]
    if not (action == np.round(action)).all() or action.min() < 0 or action.max() >= avail.shape[2]:
        _fail(p, f"'action' holds values that are not action indices in [0, {avail.shape[2]})")
    all_done = done.all(-1)
    if all_done[:-1].any():
        _fail(p, f"every agent is done at step {int(np.flatnonzero(all_done[:-1])[0])}, before the last step {L - 1}")
    _check_length(L, task.episode_limit, p, "the episode")
    rew = reward[..., 0]
    return {"obs": np.concatenate([obs, obs[-1:]]), "state": np.concatenate([state, state[-1:]]),
            "actions": action.astype(np.int64), "reward": rew[:, 0],
            "avail": np.concatenate([avail, avail[-1:]]),
            "terminated": _ends_terminated(L, all_done[-1], task.episode_limit),
            "_reward_differs": bool(not (rew == rew[:, :1]).all())}


def import_madt_episodes(directory, task: TaskLike, quality: str) -> OfflineDataset:
    """A directory of MADT episode files (SMAC), in sorted file-name order.

    Files are read with ``torch.load(weights_only=True)`` allowing lists, numbers, tensors and
    numpy arrays only: a file that would run code when unpickled is refused.  Hidden files
    (names starting with '.') are skipped.
    """
    task, directory = _task(task), Path(directory)
    check_quality(task, quality)
    if not task.discrete:
        raise ValueError(f"the MADT layout holds SMAC episodes; task {task.id} is continuous")
    if not directory.is_dir():
        _fail(directory, "not a directory of MADT episode files")
    files = sorted((p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")),
                   key=lambda p: _natural_key(p.name))
    if not files:
        _fail(directory, "no episode files")
    episodes, digests = [], []
    for p in files:
        ep = _madt_episode(p, _torch_load(p), task)
        if episodes and (ep["obs"].shape[1:] != episodes[0]["obs"].shape[1:]
                         or ep["state"].shape[1:] != episodes[0]["state"].shape[1:]
                         or ep["avail"].shape[1:] != episodes[0]["avail"].shape[1:]):
            _fail(p, f"observation / state / avail sizes {ep['obs'].shape[2]} / {ep['state'].shape[2]} / "
                     f"{ep['avail'].shape[2]} differ from the first file's ({files[0].name})")
        episodes.append(ep)
        digests.append(file_sha256(p))
    reward_differs = sum(ep.pop("_reward_differs") for ep in episodes)
    prov = {"layout": "madt", "reference": REFERENCES["madt"], "source": directory.name,
            "source_files": len(files), "first_file": files[0].name, "last_file": files[-1].name,
            "source_sha256": directory_sha256(digests),
            "source_sha256_rule": "sha256 over the files' sha256 hex digests, one per line, in import order",
            "order": "file names sorted, digit runs compared as numbers",
            "final_observation": "not stored by MADT: the last observation, state and avail repeated",
            "rewards_differ_between_agents": int(reward_differs), "obs_layout": "as stored"}
    return _finish(episodes, task, quality, prov, directory)


def directory_sha256(digests) -> str:
    """The checksum of a directory import: sha256 over the files' hex digests, one per line."""
    return hashlib.sha256("".join(f"{h}\n" for h in digests).encode()).hexdigest()


# ----------------------------------------------------------------------------- dispatch

IMPORTERS = {"comadice-npz": import_comadice_npz, "omiga-hdf5": import_omiga_hdf5, "madt": import_madt_episodes}


def import_dataset(layout: str, source, task: TaskLike, quality: str) -> OfflineDataset:
    if layout not in IMPORTERS:
        raise ValueError(f"unknown layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    return IMPORTERS[layout](source, task, quality)

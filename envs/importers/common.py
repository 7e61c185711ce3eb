"""What the importers of every layout share: refusals naming the source, checks of its arrays, and
the dataset made from its episodes (``finish``: the decisions of ``envs/importers/__init__.py``)."""
from __future__ import annotations

import os
from typing import Union

import numpy as np

from envs.dataset import file_sha256, from_episodes
from envs.dataset_checks import DatasetError, check_against_task, check_dataset
from envs.registry import TaskSpec, get_task

ENDING_RULE = ("an episode of episode_limit steps is truncated (done is set at the time limit too); "
               "a shorter one is terminated if its last step is done (every agent's), else truncated")

TaskLike = Union[TaskSpec, str]


def fail(where, msg):
    raise DatasetError(f"{where}: {msg}")


def need_file(where: str, what: str) -> None:
    """Refuse a path that is not a regular file, saying what it is instead."""
    if os.path.isdir(where):
        fail(where, f"is a directory, not {what}")
    if not os.path.exists(where):
        fail(where, "no such file")
    if not os.path.isfile(where):
        fail(where, f"not a regular file (a device or pipe?), not {what}")
    if os.path.getsize(where) == 0:
        fail(where, f"empty file (0 bytes), not {what}")


#: how the files of each layout begin: an .npz is a zip archive, HDF5 has its 8-byte signature
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def describe_start(where: str) -> str:
    with open(where, "rb") as f:
        head = f.read(64)
    if head[:1] in (b"\x80",):
        return "a Python pickle"
    if head.startswith(HDF5_MAGIC):
        return "an HDF5 file"
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"binary data starting {head[:8]!r}"
    return f"text starting {text[:24]!r}"


def as_task(task: TaskLike) -> TaskSpec:
    return get_task(task) if isinstance(task, str) else task


def finite(arr: np.ndarray, where, key: str) -> None:
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != bool:
        fail(where, f"'{key}' has dtype {arr.dtype}, expected numbers")
    if np.issubdtype(arr.dtype, np.floating):
        flat = arr.reshape(arr.shape[0], -1) if arr.ndim else arr.reshape(1)
        for lo in range(0, flat.shape[0], 4096):
            if not np.isfinite(flat[lo:lo + 4096]).all():
                fail(where, f"'{key}' contains NaN or infinity")


def flags(arr: np.ndarray, where, key: str) -> np.ndarray:
    """0/1 (or bool) values as bool; anything else is refused."""
    if arr.dtype == bool:
        return arr
    finite(arr, where, key)
    if not np.isin(arr, (0, 1)).all():
        fail(where, f"'{key}' holds values other than 0 and 1")
    return arr.astype(bool)


def agent_axis(arr: np.ndarray, where, key: str, lead: tuple, n_agents: int) -> np.ndarray:
    """A per-step array stored as ``lead``, ``lead + (1,)`` or per agent ``lead + (N,)``:
    returned as ``lead + (k,)`` with k = 1 or N."""
    if arr.shape == lead:
        return arr[..., None]
    if arr.ndim == len(lead) + 1 and arr.shape[:-1] == lead and arr.shape[-1] in (1, n_agents):
        return arr
    fail(where, f"'{key}' has shape {arr.shape}, expected {list(lead)} or per agent {list(lead + (n_agents,))}")


def ends_terminated(length: int, done_last: bool, limit: int) -> bool:
    """See the module doc: the time limit truncates, a done flag before it terminates."""
    return bool(done_last) and length < limit


def check_length(length: int, limit: int, where, what: str) -> None:
    if length > limit:
        fail(where, f"{what} has {length} steps, more than the task's episode limit of {limit} "
                     "(is --task the task of this file?)")


def observation_layout(obs: np.ndarray, n_agents: int) -> str:
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


def finish(episodes: list, task: TaskSpec, quality: str, provenance: dict, where, extra_meta=None):
    if not episodes:
        fail(where, "no episode with at least one step")
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
    check_dataset(ds, str(where))  # a problem found only now still names the source file
    # the same checks training makes, before anything is written: agents, sizes, action range / bounds
    check_against_task(ds, task, quality, str(where))
    return ds


def _state_join(episodes: list, dims) -> str:
    if dims is None:
        return "one state shared by the agents"
    n_agents, size = dims
    if n_agents >= 2 and all(observation_layout(e["state"], n_agents).startswith("state + one-hot") for e in episodes):
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


def file_provenance(layout: str, reference: str, path) -> dict:
    """Where a one-file import came from: the layout, the public code that defines it, the file."""
    return {"layout": layout, "reference": reference, "source": os.path.basename(str(path)),
            "source_bytes": os.path.getsize(path), "source_sha256": file_sha256(path)}

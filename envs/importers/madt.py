"""``madt``: MADT's SMAC episodes, read as its code reads them.

github.com/ReinholdM/Offline-Pre-trained-Multi-Agent-Decision-Transformer, ``sc2/framework/buffer.py``
(OMIGA's ``framework/utils.py`` reads the 1000-episode samples the paper's SMACv1 link serves).  One
file per episode, read with ``torch.load``: a list over agents of lists over time of ``[state, obs,
action, reward, done, avail]`` with action ``[a]``, reward ``[r]`` (the team reward, the same for
every agent) and ``done`` per agent (MAPPO's StarCraft2_Env sets it when the battle or the time
limit ends the episode *and* when that agent dies).  The observation after the last step is not
stored; their loader repeats the last one, and so do we.  Their loaders list the files with
``glob`` (file-system order); we sort the names (digit runs compared as numbers: ``ep_2`` before
``ep_10``).
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from envs.dataset import OfflineDataset, file_sha256
from envs.importers.common import TaskLike, as_task, check_length, ends_terminated, fail, finish, finite, flags
from envs.registry import TaskSpec, check_quality

LAYOUT = "madt"
#: the public code that defines the layout (repository, file)
REFERENCE = "ReinholdM/Offline-Pre-trained-Multi-Agent-Decision-Transformer sc2/framework/buffer.py"


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
            fail(p, f"not readable with torch.load ({text[:200]})")
        lines = [ln.strip() for ln in text.split("WeightsUnpickler error:", 1)[1].splitlines() if ln.strip()]
        reason = lines[0][:200] if lines else "refused"
        if "global" in reason.lower() or "allowlist" in reason.lower():
            fail(p, f"refused: it holds Python objects other than lists, numbers and numpy arrays ({reason}); "
                     "unpickling them could run code from the file, so it is not loaded")
        fail(p, f"not readable with torch.load's safe loader ({reason}): a corrupt file, or a pickle of "
                 "objects other than lists, numbers and arrays")
    except Exception as exc:  # noqa: BLE001 - zip / pickle / OS errors: unreadable
        fail(p, f"not readable with torch.load ({type(exc).__name__}: {str(exc)[:200]})")


def _madt_episode(p: Path, data, task: TaskSpec) -> dict:
    N = task.n_agents
    if not isinstance(data, (list, tuple)) or len(data) != N:
        size = len(data) if hasattr(data, "__len__") else "?"
        fail(p, f"expected a list over the task's {N} agents, got {type(data).__name__} of length {size}")
    if not all(isinstance(ag, (list, tuple)) for ag in data):
        fail(p, "an agent's trajectory is not a list of steps")
    lengths = [len(ag) for ag in data]
    if min(lengths) < 1 or len(set(lengths)) != 1:
        fail(p, f"the agents' trajectories have different or zero lengths {lengths}")
    L = lengths[0]
    for j, ag in enumerate(data):
        for t, step in enumerate(ag):
            if not isinstance(step, (list, tuple)) or len(step) != 6:
                fail(p, f"agent {j} step {t} is not [state, obs, action, reward, done, avail] "
                         f"(got {type(step).__name__} of length {len(step) if hasattr(step, '__len__') else '?'})")

    def field(k, name, dtype=np.float64):
        try:
            arr = np.asarray([[np.asarray(ag[t][k], dtype=dtype).reshape(-1) for ag in data] for t in range(L)])
        except (TypeError, ValueError) as exc:
            fail(p, f"'{name}' entries are not numbers of one size across agents and steps ({str(exc)[:120]})")
        if arr.dtype == object or arr.ndim != 3:
            fail(p, f"'{name}' entries differ in size across agents or steps")
        return arr  # [L, N, k]

    state, obs, action, reward = field(0, "state"), field(1, "obs"), field(2, "action"), field(3, "reward")
    done, avail = field(4, "done"), field(5, "avail")
    for key, arr in (("state", state), ("obs", obs), ("action", action), ("reward", reward),
                     ("done", done), ("avail", avail)):
        finite(arr, p, key)
    if action.shape[2] != 1 or reward.shape[2] != 1 or done.shape[2] != 1:
        fail(p, "action, reward and done must be one number per agent and step")
    done = flags(done[..., 0], p, "done")
    avail = flags(avail, p, "avail")
    action = action[..., 0]
    if not (action == np.round(action)).all() or action.min() < 0 or action.max() >= avail.shape[2]:
        fail(p, f"'action' holds values that are not action indices in [0, {avail.shape[2]})")
    all_done = done.all(-1)
    if all_done[:-1].any():
        fail(p, f"every agent is done at step {int(np.flatnonzero(all_done[:-1])[0])}, before the last step {L - 1}")
    check_length(L, task.episode_limit, p, "the episode")
    rew = reward[..., 0]
    return {"obs": np.concatenate([obs, obs[-1:]]), "state": np.concatenate([state, state[-1:]]),
            "actions": action.astype(np.int64), "reward": rew[:, 0],
            "avail": np.concatenate([avail, avail[-1:]]),
            "terminated": ends_terminated(L, all_done[-1], task.episode_limit),
            "_reward_differs": bool(not (rew == rew[:, :1]).all())}


def import_madt_episodes(directory, task: TaskLike, quality: str) -> OfflineDataset:
    """A directory of MADT episode files (SMAC), in sorted file-name order.

    Files are read with ``torch.load(weights_only=True)`` allowing lists, numbers, tensors and
    numpy arrays only: a file that would run code when unpickled is refused.  Hidden files
    (names starting with '.') are skipped.
    """
    task, directory = as_task(task), Path(directory)
    check_quality(task, quality)
    if not task.discrete:
        raise ValueError(f"the MADT layout holds SMAC episodes; task {task.id} is continuous")
    if not directory.is_dir():
        fail(directory, "not a directory of MADT episode files")
    files = sorted((p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")),
                   key=lambda p: _natural_key(p.name))
    if not files:
        fail(directory, "no episode files")
    episodes, digests = [], []
    for p in files:
        ep = _madt_episode(p, _torch_load(p), task)
        if episodes and (ep["obs"].shape[1:] != episodes[0]["obs"].shape[1:]
                         or ep["state"].shape[1:] != episodes[0]["state"].shape[1:]
                         or ep["avail"].shape[1:] != episodes[0]["avail"].shape[1:]):
            fail(p, f"observation / state / avail sizes {ep['obs'].shape[2]} / {ep['state'].shape[2]} / "
                     f"{ep['avail'].shape[2]} differ from the first file's ({files[0].name})")
        episodes.append(ep)
        digests.append(file_sha256(p))
    reward_differs = sum(ep.pop("_reward_differs") for ep in episodes)
    prov = {"layout": LAYOUT, "reference": REFERENCE, "source": directory.name,
            "source_files": len(files), "first_file": files[0].name, "last_file": files[-1].name,
            "source_sha256": directory_sha256(digests),
            "source_sha256_rule": "sha256 over the files' sha256 hex digests, one per line, in import order",
            "order": "file names sorted, digit runs compared as numbers",
            "final_observation": "not stored by MADT: the last observation, state and avail repeated",
            "rewards_differ_between_agents": int(reward_differs), "obs_layout": "as stored"}
    return finish(episodes, task, quality, prov, directory)


def directory_sha256(digests) -> str:
    """The checksum of a directory import: sha256 over the files' hex digests, one per line."""
    return hashlib.sha256("".join(f"{h}\n" for h in digests).encode()).hexdigest()

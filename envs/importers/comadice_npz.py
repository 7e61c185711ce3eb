"""``comadice-npz``: the paper's own files, read as its code reads them.

github.com/vietbt/ComaDICE, ``runner/data.py`` and the ``load_smac_data`` / ``load_mamujoco_data``
it calls in ``runner/utils.py``.  One ``.npz`` per (task, quality), padded per trajectory; ``n``
trajectories, ``T`` time slots, ``N`` agents:

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
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.dataset import OfflineDataset
from envs.dataset_checks import DatasetError
from envs.importers.common import (
    ZIP_MAGIC,
    TaskLike,
    agent_axis,
    as_task,
    check_length,
    describe_start,
    ends_terminated,
    fail,
    file_provenance,
    finish,
    finite,
    flags,
    need_file,
    observation_layout,
)
from envs.registry import TaskSpec, check_quality

LAYOUT = "comadice-npz"
#: the public code that defines the layout (repository, files)
REFERENCE = "vietbt/ComaDICE runner/data.py, runner/utils.py"

#: ComaDICE's MaMujocoDataset divides the stored actions by this (runner/data.py)
COMADICE_ACTION_SCALE = 4.0


@dataclass
class _Padded:
    """The checked arrays of one file: ``n`` trajectories of ``T`` slots (``T + 1`` observations)."""
    obs: np.ndarray          # [n, T+1, N, O]
    states: np.ndarray       # [n, T+1, (N,) S]
    actions: np.ndarray      # [n, T or T+1, N] (discrete, int64) or [n, T+1, N, A]
    rewards: np.ndarray      # [n, T, 1 or N]
    dones: np.ndarray        # [n, T, 1 or N] bool
    actives: np.ndarray      # [n, T] bool
    avails: np.ndarray | None  # [n, T+1, N, A] bool (discrete only)
    action_slots: int

    @property
    def n(self) -> int:
        return self.obs.shape[0]

    @property
    def T(self) -> int:
        return self.obs.shape[1] - 1


def import_comadice_npz(path, task: TaskLike, quality: str) -> OfflineDataset:
    """The paper's ``.npz`` layout (SMAC or MaMuJoCo by ``task``): padding stripped with ``actives``."""
    task, where = as_task(task), str(path)
    check_quality(task, quality)
    padded = _checked_arrays(_read_npz(where, task), where, task)
    episodes, counts = _trajectories(padded, where, task)
    prov, extra = _provenance(padded, counts, where, task)
    return finish(episodes, task, quality, prov, where, extra)


def _read_npz(where: str, task: TaskSpec) -> dict:
    """The arrays the layout needs, read without unpickling anything."""
    need_file(where, "the paper's .npz dataset file")
    with open(where, "rb") as fh:
        if fh.read(4) not in ZIP_MAGIC:
            fail(where, f"not an .npz file (a zip archive of .npy arrays): it is {describe_start(where)}")
    need = ["states", "obs", "actions", "rewards", "dones", "actives"] + (["avails"] if task.discrete else [])
    try:
        with np.load(where, allow_pickle=False) as z:
            missing = [k for k in need if k not in z.files]
            if missing:
                fail(where, f"missing key(s) {', '.join(missing)} (the {task.suite} layout has {', '.join(need)})")
            return {k: z[k] for k in need}
    except DatasetError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            fail(where, "an array holds pickled Python objects; refusing to unpickle (expected numeric arrays)")
        fail(where, f"not a readable .npz file ({exc})")
    except Exception as exc:  # noqa: BLE001 - zip / OS / format errors: the file is unreadable
        fail(where, f"not a readable .npz file ({type(exc).__name__}: {exc})")


def _checked_arrays(data: dict, where: str, task: TaskSpec) -> _Padded:
    """Every array's shape against ``obs`` and the task, flags as bool, values finite."""
    obs, N = data["obs"], task.n_agents
    if obs.ndim != 4 or obs.shape[2] != N:
        fail(where, f"'obs' has shape {obs.shape}, expected [n, T+1, N={N}, O]")
    n, T1 = obs.shape[:2]
    T = T1 - 1
    lead = (n, T)
    if data["rewards"].shape[:2] != lead:
        fail(where, f"'rewards' has shape {data['rewards'].shape}, expected [n={n}, T={T}] "
                    f"(one slot fewer than the {T1} of 'obs')")
    rewards = agent_axis(data["rewards"], where, "rewards", lead, N)
    dones = flags(agent_axis(data["dones"], where, "dones", lead, N), where, "dones")
    actives = flags(agent_axis(data["actives"], where, "actives", lead, N), where, "actives")
    if not (actives == actives[..., :1]).all():
        i = int(np.argwhere(~(actives == actives[..., :1]).all(-1))[0][0])
        fail(where, f"'actives' differ between agents in trajectory {i}")
    states = data["states"]
    if not (states.ndim == 3 and states.shape[:2] == (n, T1)) and \
            not (states.ndim == 4 and states.shape[:3] == (n, T1, N)):
        fail(where, f"'states' has shape {states.shape}, expected [n={n}, T+1={T1}, S] or [n, T+1, N={N}, S]")
    actions, action_slots = data["actions"], None
    if actions.shape[:3] in ((n, T, N), (n, T1, N)):
        action_slots = actions.shape[1]
    avails = None
    if task.discrete:
        actions, avails = _discrete_actions(actions, action_slots, data["avails"], where, n, T1, N)
    else:
        _continuous_actions(actions, action_slots, where, task, n, T1, N)
    for key, arr in (("obs", obs), ("states", states), ("rewards", rewards)):
        finite(arr, where, key)
    return _Padded(obs=obs, states=states, actions=actions, rewards=rewards, dones=dones,
                   actives=actives[..., 0], avails=avails, action_slots=action_slots)


def _discrete_actions(actions, action_slots, avails, where: str, n: int, T1: int, N: int):
    """SMAC: action indices [n, T, N] (or [n, T, N, 1]) within the ``avails`` masks' width."""
    T = T1 - 1
    if action_slots is None or not (actions.ndim == 3 or (actions.ndim == 4 and actions.shape[3] == 1)):
        fail(where, f"'actions' has shape {actions.shape}, expected [n={n}, T={T}, N={N}] or [n, T, N, 1]")
    actions = actions.reshape(actions.shape[:3])
    if avails.ndim != 4 or avails.shape[:3] != (n, T1, N):
        fail(where, f"'avails' has shape {avails.shape}, expected [n={n}, T+1={T1}, N={N}, A]")
    avails = flags(avails, where, "avails")
    finite(actions, where, "actions")
    if not (actions == np.round(actions)).all():
        fail(where, "'actions' holds non-integer values")
    if actions.min() < 0 or actions.max() >= avails.shape[3]:
        fail(where, f"'actions' outside [0, {avails.shape[3]}) (A from 'avails')")
    return actions.astype(np.int64), avails


def _continuous_actions(actions, action_slots, where: str, task: TaskSpec, n: int, T1: int, N: int) -> None:
    """MaMuJoCo: actions [n, T+1, N, A] with the task's A components."""
    if action_slots is None or actions.ndim != 4:
        fail(where, f"'actions' has shape {actions.shape}, expected [n={n}, T+1={T1}, N={N}, A]")
    if actions.shape[3] != task.action_dim:
        fail(where, f"'actions' have {actions.shape[3]} components per agent, task {task.id} has "
                    f"{task.action_dim}")
    finite(actions, where, "actions")


def _trajectories(p: _Padded, where: str, task: TaskSpec):
    """The episodes of the non-empty trajectories (the ``actives`` prefix of each), and counts."""
    episodes, empty, reward_differs, final_repeats = [], 0, 0, 0
    for i in range(p.n):
        L = int(p.actives[i].sum())
        if L == 0:
            empty += 1
            continue
        if not p.actives[i, :L].all():
            fail(where, f"trajectory {i}: 'actives' is not a prefix (inactive slot inside the trajectory)")
        check_length(L, task.episode_limit, where, f"trajectory {i}")
        r = p.rewards[i, :L]
        reward_differs += int(not (r == r[:, :1]).all())
        ep = {"obs": p.obs[i, :L + 1], "state": p.states[i, :L + 1], "actions": p.actions[i, :L],
              "reward": r[:, 0],
              "terminated": ends_terminated(L, p.dones[i, L - 1].all(), task.episode_limit)}
        if task.discrete:
            ep["avail"] = p.avails[i, :L + 1]
        final_repeats += int(np.array_equal(p.obs[i, L], p.obs[i, L - 1]))
        episodes.append(ep)
    return episodes, {"empty": empty, "reward_differs": reward_differs, "final_repeats": final_repeats}


def _provenance(p: _Padded, counts: dict, where: str, task: TaskSpec):
    """The file's provenance and, for MaMuJoCo, the ``action_scale`` attribute."""
    prov = file_provenance(LAYOUT, REFERENCE, where)
    prov.update(trajectories_in_file=p.n, time_slots=p.T, empty_trajectories_skipped=counts["empty"],
                action_slots=p.action_slots, final_obs_repeats_last=counts["final_repeats"],
                rewards_differ_between_agents=counts["reward_differs"],
                obs_layout=(observation_layout(p.obs[p.actives[:, 0], 0], task.n_agents)
                            if not task.discrete else "as stored"))
    if counts["reward_differs"]:
        prov["reward_note"] = "per-agent rewards differ: agent 0's kept as the team reward"
    extra = {}
    if not task.discrete:
        extra["action_scale"] = COMADICE_ACTION_SCALE
        prov["action_scale_note"] = ("actions kept as stored (environment scale); the paper's loader divides "
                                     "them by action_scale and its rollout multiplies the tanh policy by it")
        prov["max_abs_action"] = float(np.abs(p.actions[:, :p.T][p.actives]).max()) if p.actives.any() else 0.0
    return prov, extra

"""``omiga-hdf5``: OMIGA's MaMuJoCo files, read as its code reads them.

github.com/ZhengYinan-AIR/OMIGA, ``datasets/offline_dataset.py`` (the same download as the paper's
MaMuJoCo data).  Keys ``s``, ``o`` [R, N, D], ``a`` [R, N, A], ``r`` [R, 1], ``d`` [R, 1], flat in
time (R rows).  The loader keeps rows with ``d = 0`` as transitions to row t+1 with mask
``1 - d[t+1]``: a row with ``d = 1`` is the observation after an episode's last step (its action
and reward are never used) and the next row starts the next episode -- a 1000-step episode takes
1001 rows (a HalfCheetah file has 1 001 000 rows and 1000 flags).  The time-limit end is therefore
stored exactly like a fall, and bootstraps with mask 0 in their code.  ``o`` (and ``s``, the same
values) is the full MuJoCo observation plus a one-hot agent id, standardised per vector
(``envs/mamujoco/multiagent_mujoco/mujoco_multi.py`` ``get_obs`` in the ComaDICE repo).

Episodes come from the ``d`` flags alone (every episode end, time limit included, carries one);
the 1000-step limit only decides terminated vs truncated.  Rows after the last flag form one more,
truncated, episode (their loader trains on them too).
"""
from __future__ import annotations

import numpy as np

from envs import host_memory
from envs.dataset import OfflineDataset, root_link_problem
from envs.importers.common import (
    HDF5_MAGIC,
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

LAYOUT = "omiga-hdf5"
#: the public code that defines the layout (repository, file)
REFERENCE = "ZhengYinan-AIR/OMIGA datasets/offline_dataset.py"
_KEYS = ("s", "o", "a", "r", "d")


def import_omiga_hdf5(path, task: TaskLike, quality: str) -> OfflineDataset:
    """OMIGA's MaMuJoCo HDF5 (s, o, a, r, d flat in time); time-limit ends become truncations."""
    task, where = as_task(task), str(path)
    check_quality(task, quality)
    s, o, a, r, d = _checked_rows(*_read_hdf5(where), where, task)
    segments, ends, tail_rows = _segments(d)
    episodes, reward_differs = _episodes(segments, s, o, a, r, d, where, task.episode_limit)
    limit, R = task.episode_limit, o.shape[0]
    prov = file_provenance(LAYOUT, REFERENCE, where)
    prov.update(rows=R, d_flags=int(len(ends)),
                episode_inference="a row with d = 1 is the observation after an episode's last step; "
                                  "the next row starts the next episode",
                time_limit_ends_made_truncated=sum(1 for lo, hi in segments if hi - lo == limit and d[hi]),
                unfinished_tail_rows=int(tail_rows),
                tail_note=("rows after the last d = 1 kept as one truncated episode" if tail_rows >= 2 else
                           "one row after the last d = 1 dropped (no transition)" if tail_rows == 1 else "none"),
                rewards_differ_between_agents=reward_differs,
                obs_layout=observation_layout(o, task.n_agents))
    return finish(episodes, task, quality, prov, where)


def _read_hdf5(where: str) -> tuple:
    """``s, o, a, r, d`` as arrays: real arrays in the file (no links or groups), refused before
    they are read when they declare more than the memory available now."""
    import h5py

    need_file(where, "an OMIGA HDF5 dataset file")
    with open(where, "rb") as fh:
        if fh.read(8) != HDF5_MAGIC:
            fail(where, f"not an HDF5 file: it is {describe_start(where)}")
    try:
        f = h5py.File(where, "r")
    except OSError as exc:
        fail(where, f"not a readable HDF5 file ({exc})")
    with f:
        for k in _KEYS:
            link = root_link_problem(f, k)
            if link is not None:
                fail(where, link)
        missing = [k for k in _KEYS if k not in f]
        if missing:
            fail(where, f"missing key(s) {', '.join(missing)} (OMIGA's layout has s, o, a, r, d)")
        groups = [k for k in _KEYS if not isinstance(f[k], h5py.Dataset)]
        if groups:
            fail(where, f"'{groups[0]}' is a group, expected an array")
        declared = sum(int(np.prod(f[k].shape, dtype=np.float64)) * f[k].dtype.itemsize for k in _KEYS)
        free = host_memory.available_memory_bytes()
        if declared > free:
            fail(where, f"declares {declared / 2**30:.1f} GiB of arrays, more than the memory available now "
                        f"({free / 2**30:.1f} GiB): refusing to allocate")
        try:
            return tuple(np.asarray(f[k]) for k in _KEYS)
        except MemoryError:
            fail(where, "out of memory reading its arrays")
        except (OSError, TypeError, ValueError, RuntimeError) as exc:
            fail(where, f"an array cannot be read ({exc})")


def _checked_rows(s, o, a, r, d, where: str, task: TaskSpec) -> tuple:
    """Shapes against ``o`` and the task; ``r`` as [R, 1 or N]; ``d`` one flag per row; values finite."""
    N = task.n_agents
    if o.ndim != 3 or o.shape[1] != N:
        fail(where, f"'o' has shape {o.shape}, expected [rows, N={N}, D]")
    R = o.shape[0]
    if R < 2:
        fail(where, f"{R} row(s): not even one transition")
    if not ((s.ndim == 3 and s.shape[:2] == (R, N)) or (s.ndim == 2 and s.shape[0] == R)):
        fail(where, f"'s' has shape {s.shape}, expected [rows={R}, N={N}, D] or [rows, S]")
    if a.ndim != 3 or a.shape[:2] != (R, N):
        fail(where, f"'a' has shape {a.shape}, expected [rows={R}, N={N}, A]")
    if a.shape[2] != task.action_dim:
        fail(where, f"'a' has {a.shape[2]} components per agent, task {task.id} has {task.action_dim}")
    r = agent_axis(r, where, "r", (R,), N)
    d = flags(agent_axis(d, where, "d", (R,), N), where, "d")
    if not (d == d[:, :1]).all():
        fail(where, f"'d' differs between agents at row {int(np.argwhere(~(d == d[:, :1]).all(-1))[0][0])}")
    for key, arr in (("s", s), ("o", o), ("a", a), ("r", r)):
        finite(arr, where, key)
    return s, o, a, r, d[:, 0]


def _segments(d: np.ndarray):
    """The episodes as (first row, row after the last step) pairs: a row with d = 1 is the
    observation after an episode's last step, and the next row starts the next episode."""
    R = d.shape[0]
    ends = np.flatnonzero(d)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    segments = list(zip(starts.tolist(), ends.tolist(), strict=False))
    tail_start = int(ends[-1]) + 1 if len(ends) else 0
    tail_rows = R - tail_start
    if tail_rows >= 2:  # an unfinished episode: its last row is the last observation recorded
        segments.append((tail_start, R - 1))
    return segments, ends, tail_rows


def _episodes(segments: list, s, o, a, r, d, where: str, limit: int):
    """One episode per segment (rows lo..hi are observations, lo..hi-1 transitions), and how many
    of them have rewards that differ between agents."""
    episodes, reward_differs = [], 0
    for k, (lo, hi) in enumerate(segments):
        L = hi - lo
        if L < 1:
            fail(where, f"row {hi} has d = 1 right after {'the start of the file' if hi == 0 else 'another d = 1'}: "
                        "an episode without a step")
        check_length(L, limit, where, f"episode {k} (rows {lo}-{hi})")
        rr = r[lo:hi]
        reward_differs += int(not (rr == rr[:, :1]).all())
        finished = bool(d[hi])
        episodes.append({"obs": o[lo:hi + 1], "state": s[lo:hi + 1], "actions": a[lo:hi], "reward": rr[:, 0],
                         "terminated": ends_terminated(L, finished, limit)})
    return episodes, reward_differs

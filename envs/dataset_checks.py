"""The checks of a dataset (``envs/dataset.py``): each a small named function, kept in ordered lists.

Three passes, each its own list because each sees a different thing at a different time:

- ``DECLARED_CHECKS``, run by ``check_declared``: the shapes and dtypes a file's header declares,
  before anything is allocated (a crafted header -- rows that disagree, 10^12 rows of a gzip of
  zeros -- is refused, not read).  The first problem is refused.
- ``CHECKS``, run by ``check_dataset``: the arrays of a dataset in memory (shapes, dtypes,
  finiteness, episode structure), before it is written and after it is loaded.  The first
  problem is refused.
- ``TASK_CHECKS``, run by ``check_against_task``: the dataset against the task it is used for
  (labels, sizes, action values, the simulator settings it was made with).  Every problem is named.
"""
from __future__ import annotations

import numpy as np

from envs import host_memory


class DatasetError(ValueError):
    """A dataset file is malformed; the message names the file and the problem."""

# -- the header: shapes and dtypes as the file declares them -------------------------------------

#: the per-step arrays ([T, ...]) and per-episode arrays ([E, ...]) with their number of dimensions
_STEP_NDIM = {"obs": 3, "state": 2, "reward": 1, "terminated": 1, "truncated": 1, "episode_start": 1, "avail": 3}
_EPISODE_NDIM = {"final_obs": 3, "final_state": 2, "final_avail": 3}
_FLAG_ARRAYS = ("terminated", "truncated", "episode_start", "avail", "final_avail")

# Each declared check takes ``declared`` ({array: (shape, dtype)} of the arrays the file holds),
# the file's attributes and the dtype the observations will be read as, and returns its problem
# or None; each may rely on the checks before it having passed.


def _declared_dimensions(declared: dict, meta: dict, obs_dtype) -> str | None:
    for key, ndim in {**_STEP_NDIM, **_EPISODE_NDIM}.items():
        if key in declared and len(declared[key][0]) != ndim:
            return f"'/{key}' has shape {declared[key][0]}, expected {ndim} dimensions"
    return None


def _declared_actions(declared: dict, meta: dict, obs_dtype) -> str | None:
    discrete = meta.get("action_type") == "discrete"
    a_shape = declared["actions"][0]
    if len(a_shape) != (2 if discrete else 3):
        return (f"'/actions' has shape {a_shape}, expected {'[T, N]' if discrete else '[T, N, A]'} "
                f"for action_type {meta.get('action_type')!r}")
    if discrete and ("avail" not in declared or "final_avail" not in declared):
        return "discrete dataset without '/avail' / '/final_avail' masks"
    return None


def _declared_rows(declared: dict, meta: dict, obs_dtype) -> str | None:
    T = declared["reward"][0][0]
    for key in list(_STEP_NDIM) + ["actions"]:
        if key in declared and declared[key][0][0] != T:
            return f"'/{key}' declares {declared[key][0][0]} rows, '/reward' {T}: the arrays disagree"
    E = declared["final_obs"][0][0]
    for key in _EPISODE_NDIM:
        if key in declared and declared[key][0][0] != E:
            return f"'/{key}' declares {declared[key][0][0]} episodes, '/final_obs' {E}"
    if T < 1 or E < 1 or E > T:
        return f"declares {T} transitions and {E} episodes (need 1 <= episodes <= transitions)"
    return None


def _declared_agents(declared: dict, meta: dict, obs_dtype) -> str | None:
    N = declared["obs"][0][1]
    for key in ("actions", "final_obs", "avail", "final_avail"):
        if key in declared and declared[key][0][1] != N:
            return f"'/{key}' declares {declared[key][0][1]} agents, '/obs' {N}"
    for key, other in (("final_obs", "obs"), ("final_state", "state"), ("final_avail", "avail")):
        if key in declared and other in declared and declared[key][0][1:] != declared[other][0][1:]:
            return f"{other} {declared[other][0]} and {key} {declared[key][0]} differ in shape"
    return None


def _declared_dtypes(declared: dict, meta: dict, obs_dtype) -> str | None:
    discrete = meta.get("action_type") == "discrete"
    for key, (shape, dtype) in declared.items():
        kinds = "b" if key in _FLAG_ARRAYS else ("iu" if key == "actions" and discrete else "f")
        if dtype.kind not in kinds and not (kinds == "b" and dtype.kind in "iu"):
            expected = 'bool' if kinds == 'b' else 'integer' if kinds == 'iu' else 'float'
            return f"'/{key}' has dtype {dtype}, expected {expected}"
    return None


def _declared_memory(declared: dict, meta: dict, obs_dtype) -> str | None:
    """The arrays' bytes (the observations at ``obs_dtype``) against the memory available now."""
    nbytes = sum(int(np.prod(shape, dtype=np.float64)) * dtype.itemsize for shape, dtype in declared.values())
    if obs_dtype is not None:
        nbytes -= int(np.prod(declared["obs"][0]) + np.prod(declared["final_obs"][0])) * (
            declared["obs"][1].itemsize - np.dtype(obs_dtype).itemsize)
    free = host_memory.available_memory_bytes()
    if nbytes > free:
        return (f"declares {nbytes / 2**30:.1f} GiB of arrays, more than the memory available now "
                f"({free / 2**30:.1f} GiB of {host_memory.physical_memory_bytes() / 2**30:.1f} GiB): "
                "refusing to allocate")
    return None


#: the checks of a file's declared shapes and dtypes, in order (``check_declared``)
DECLARED_CHECKS = [
    ("dimensions", _declared_dimensions),
    ("actions and masks", _declared_actions),
    ("rows and episodes", _declared_rows),
    ("agents and final shapes", _declared_agents),
    ("dtypes", _declared_dtypes),
    ("memory", _declared_memory),
]


def check_declared(declared: dict, meta: dict, path: str, obs_dtype=None) -> None:
    """Refuse a file whose header fails a check of ``DECLARED_CHECKS``, naming it and the problem."""
    for _name, check in DECLARED_CHECKS:
        problem = check(declared, meta, obs_dtype)
        if problem is not None:
            raise DatasetError(f"{path}: {problem}")


# -- the arrays of a dataset in memory -----------------------------------------------------------

# Each check takes the dataset and returns its problem or None; each may rely on the checks
# before it having passed (the transitions, observations and state are checked first).


def _all_finite(a: np.ndarray, rows: int = 4096) -> bool:
    """np.isfinite(a).all() in chunks: no temporary the size of a large array."""
    return all(np.isfinite(a[lo:lo + rows]).all() for lo in range(0, a.shape[0], rows))


def _transitions(ds) -> str | None:
    if ds.reward.ndim != 1:
        return f"reward must be 1-D, got shape {ds.reward.shape}"
    if ds.reward.shape[0] == 0:
        return "dataset holds no transitions"
    return None


def _observations_and_state(ds) -> str | None:
    T = ds.reward.shape[0]
    if ds.obs.ndim != 3 or ds.obs.shape[0] != T:
        return f"obs must be [T={T}, N, O], got {ds.obs.shape}"
    if ds.state.ndim != 2 or ds.state.shape[0] != T:
        return f"state must be [T={T}, S], got {ds.state.shape}"
    return None


def _episode_flags(ds) -> str | None:
    T = ds.reward.shape[0]
    for key in ("terminated", "truncated", "episode_start"):
        arr = getattr(ds, key)
        if arr.shape != (T,) or arr.dtype != bool:
            return f"{key} must be bool [T={T}], got {arr.dtype} {arr.shape}"
    return None


def _discrete_actions(ds) -> str | None:
    T, N = ds.obs.shape[:2]
    if ds.actions.shape != (T, N) or not np.issubdtype(ds.actions.dtype, np.integer):
        return f"discrete actions must be int [T={T}, N={N}], got {ds.actions.dtype} {ds.actions.shape}"
    if ds.avail is None or ds.final_avail is None:
        return "discrete dataset without 'avail' / 'final_avail' masks"
    if ds.avail.ndim != 3 or ds.avail.shape[:2] != (T, N):
        return f"avail must be [T={T}, N={N}, A], got {ds.avail.shape}"
    A = ds.avail.shape[2]
    if ds.actions.min() < 0 or ds.actions.max() >= A:
        return f"actions outside [0, {A})"
    taken = np.take_along_axis(ds.avail, ds.actions[..., None], axis=2)
    if not taken.all():
        t = int(np.argwhere(~taken[..., 0])[0][0])
        return f"an action marked unavailable was taken (first at step {t})"
    return None


def _continuous_actions(ds) -> str | None:
    T, N = ds.obs.shape[:2]
    if ds.actions.ndim != 3 or ds.actions.shape[:2] != (T, N):
        return f"continuous actions must be float [T={T}, N={N}, A], got {ds.actions.shape}"
    if not np.isfinite(ds.actions).all():
        return "actions contain NaN or infinity"
    return None


def _actions(ds) -> str | None:
    action_type = ds.meta.get("action_type", "discrete" if ds.actions.ndim == 2 else "continuous")
    if action_type == "discrete":
        return _discrete_actions(ds)
    if action_type == "continuous":
        return _continuous_actions(ds)
    return f"unknown action_type {action_type!r}"


def _finite_values(ds) -> str | None:
    for key in ("obs", "state", "reward", "final_obs", "final_state"):
        if not _all_finite(getattr(ds, key)):
            return f"{key} contains NaN or infinity"
    return None


def _first_episode_start(ds) -> str | None:
    if not ds.episode_start[0]:
        return "the first step is not marked as an episode start"
    return None


def _final_observations(ds) -> str | None:
    """One final observation and state per episode (an episode is a run from a start flag)."""
    E, N = int(ds.episode_start.sum()), ds.obs.shape[1]
    if ds.final_obs.shape != (E, N, ds.obs.shape[2]):
        return f"final_obs must be [E={E}, N={N}, O={ds.obs.shape[2]}], got {ds.final_obs.shape}"
    if ds.final_state.shape != (E, ds.state.shape[1]):
        return f"final_state must be [E={E}, S], got {ds.final_state.shape}"
    return None


def _episode_ends(ds) -> str | None:
    """Every episode's last step, and no other, is terminated or truncated (not both)."""
    T, E = ds.reward.shape[0], int(ds.episode_start.sum())
    ends = np.append(np.flatnonzero(ds.episode_start)[1:] - 1, T - 1)
    done = ds.terminated | ds.truncated
    if not done[ends].all():
        e = int(np.flatnonzero(~done[ends])[0])
        return f"episode {e} ends at step {ends[e]} without terminated or truncated set"
    if done.sum() != E:
        return f"{int(done.sum())} steps are marked terminal but there are {E} episodes"
    if (ds.terminated & ds.truncated).any():
        return "a step is marked both terminated and truncated"
    return None


#: the checks of a dataset's arrays, in order (``check_dataset``)
CHECKS = [
    ("transitions", _transitions),
    ("observations and state", _observations_and_state),
    ("episode flags", _episode_flags),
    ("actions", _actions),
    ("finite values", _finite_values),
    ("first episode start", _first_episode_start),
    ("final observations", _final_observations),
    ("episode ends", _episode_ends),
]


def check_dataset(ds, where: str = "<dataset>") -> None:
    """Refuse a dataset that fails a check of ``CHECKS`` (shapes, dtypes, finiteness, episode
    structure), naming ``where`` and the problem."""
    for _name, check in CHECKS:
        problem = check(ds)
        if problem is not None:
            raise DatasetError(f"{where}: {problem}")


# -- the dataset against the task it is used for -----------------------------------------------

def task_spec(task):
    """A ``TaskSpec`` as it is, or the registry's task for ``"suite/task"``."""
    if isinstance(task, str):
        from envs.registry import get_task
        try:
            return get_task(task)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
    return task


def _label_problems(meta: dict, task, quality: str | None) -> list:
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
    if task.n_agents != N:
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
        if A is not None and task.action_dim != A:
            out.append(f"{A} discrete actions (avail mask width), the task has {task.action_dim}")
    elif shapes["actions"][2] != task.action_dim:
        out.append(f"action size {shapes['actions'][2]} per agent, the task's is {task.action_dim}")
    return out


def expected_obs_dim(task, meta: dict | None = None) -> int:
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


def _value_problems(ds, task) -> list:
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


def dataset_obs_layout(meta: dict) -> str | None:
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


#: checks of a dataset against the task it is used for, by name: each ``check(ds, task) -> [problems]``.
#: Append to extend; ``check_against_task`` runs them all.
TASK_CHECKS = [("sizes", _shape_check), ("action values", _value_problems), ("settings", _setting_check)]
#: the checks ``load_dataset`` makes from the file's header before reading its arrays (with the
#: labels, ``check_header_against_task``): after reading, only the others run, so that no check
#: runs twice per load
HEADER_CHECKS = ("sizes", "settings")


def check_header_against_task(shapes: dict, meta: dict, task, quality: str | None, where: str) -> None:
    """What ``check_against_task`` checks that the file's attributes and declared ``shapes``
    ({array: shape}) already show: the labels, sizes and settings, before the arrays are read."""
    problems = (_label_problems(meta, task, quality) + _shape_problems(shapes, meta, task)
                + _setting_problems(meta, task))
    if problems:
        raise DatasetError(_fit_message(where, task, problems))


def check_against_task(ds, task, quality: str | None = None, where: str = "<dataset>",
                       header_checked: bool = False) -> None:
    """Refuse a dataset that does not fit ``task`` (a ``TaskSpec`` or ``"suite/task"``), naming
    ``where`` (the file) and every problem: its suite / task / quality labels (``quality``
    None: not checked), agents, observation / state / action sizes, the action type, discrete
    actions outside the task's range or unavailable, continuous actions beyond [-1, 1] x the
    recorded ``action_scale``.  Runs every function in ``TASK_CHECKS`` (``header_checked``: those
    ``load_dataset`` has not run from the file's header already, and not the labels)."""
    task = task_spec(task)
    problems = [] if header_checked else _label_problems(ds.meta, task, quality)
    try:
        for name, check in TASK_CHECKS:
            if header_checked and name in HEADER_CHECKS:
                continue
            problems += check(ds, task)
    except DatasetError as exc:
        problems.append(str(exc))
    if problems:
        raise DatasetError(_fit_message(where, task, problems))

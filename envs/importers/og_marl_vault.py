"""``og-marl-vault``: OG-MARL's datasets, Flashbax Vaults, read as OG-MARL reads them.

github.com/instadeepai/og-marl, ``og_marl/replay_buffers.py`` ``populate_from_vault``: one Vault per
(source, environment, scenario) at ``vaults/<source>/<env>/<scenario>.vlt/``, one dataset per folder
below it (its uid: ``Good``, ``Medium``, ``Poor``; ``Expert``, ``Medium-Replay``, ...).  The source of
an import is that uid folder (it holds ``metadata.json``).  A Vault (flashbax 0.1.3,
``flashbax/vault/vault.py``) stores each leaf as a zarr array in a TensorStore OCDBT store, with time
on axis 1 and the fill level in a separate ``vault_index``; it is read with flashbax's ``Vault``.
Leaves, ``B`` rows (1 in OG-MARL's and OMIGA's data), ``T`` time steps, ``N`` agents::

    observations [B, T, N, O]    actions [B, T, N] (discrete, int) or [B, T, N, A] (continuous)
    rewards      [B, T, N]       terminals, truncations [B, T, N] (0 / 1)
    infos.state  [B, T, S] (or per agent [B, T, N, S])
    infos.legals [B, T, N, A]    (discrete: the available actions; required for SMAC)

Row t holds o_t, the state and legal actions at o_t, a_t, r_t and whether the episode ended with
that step (OG-MARL's ``ExperienceRecorder``); an episode ends where every agent's ``terminals`` or
every agent's ``truncations`` is 1 (``og_marl/vault_utils/analyse_vault.py``: per-agent terminals of
SMAC mark dead agents before the end).  Where the flagged row sits is the ``terminal_row`` option:

- ``last-step`` (OG-MARL's own recordings: ``core/gymnasium_mamujoco``, ``core/smac_v1``): the flagged
  row is the episode's last step and the observation after it was never recorded.  Every row is kept
  as a step; the observation after the last one is the last one repeated, as the paper's own files
  repeat the last state after an episode's end.  A terminated episode never bootstraps from it; a
  truncated one bootstraps from that copy.
- ``after-last-step`` (OMIGA's files converted row for row, ``prior_work/omiga/mamujoco``: 1 001 000
  rows and 1000 episodes in a HalfCheetah dataset): the flagged row is the observation after the
  episode's last step, its action and reward unused, as in ``envs/importers/omiga_hdf5.py``.
- ``auto`` (the default): the ``terminal_row`` a Vault written by this harness records in its
  metadata; else ``after-last-step`` for MaMuJoCo observations in OMIGA's layout, ``last-step``
  otherwise.  OMIGA's SMAC Vaults are read as ``last-step``: their rows were not checked against the
  original files.

Rows after the last flagged one form one more, truncated, episode.  The team reward is agent 0's
(as OG-MARL's ``calculate_returns``); rows whose agents' rewards differ are counted in the provenance.

Observations (the harness's ``simulators.mamujoco_obs``, ``envs/spec.py`` ``MAMUJOCO_OBS_LAYOUTS``):

- ``prior_work/omiga/mamujoco`` (3hopper, 6halfcheetah, 2ant): the full MuJoCo v2 observation plus a
  one-hot agent id, standardised per vector (``og_marl/wrapped_environments/mamujoco_omiga.py``) --
  the ``authors`` layout; import with ``--obs-layout authors`` (the default).  ``infos.state`` has the
  observation's width there, so the raw state is recovered from agent 0's observation
  (``state_from_authors_observation``).  2ant's observation (Ant-v2, 111 + 2) is wider than MuJoCo v5's
  Ant here (105 + 2): refused.
- ``core/gymnasium_mamujoco``: Gymnasium-Robotics' agent_obsk=1 observations zero padded to the widest
  agent and ``infos.state = env.state()`` -- the ``local`` layout; import with ``--obs-layout local``.
- SMACv1 / SMACv2: StarCraft II's features.  SMAX observes differently, so the data fit only a task
  sized by the game (``--backend sc2``; runs with ``simulators.smac_backend: sc2``).  OMIGA's SMAC Vaults
  hold MAPPO's StarCraft2_Env features (agent id, agent-specific state: 124 / 780 wide on 5m_vs_6m),
  wider than smac's own (55 / 98): those sizes are refused by any task here.

Refused, naming the folder: not a Vault uid folder (or a ``.vlt`` folder: its uids are listed), a Vault
of another environment or scenario than the task (read from the path when it ends in
``<env>/<scenario>.vlt/<uid>``), a symbolic link leading out of the folder, arrays TensorStore cannot
open or read (a data file or the manifest truncated, missing or corrupt), a missing leaf, an empty
Vault, actions of the other kind, widths that do not fit the task, an episode longer than the task's limit.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

from envs import host_memory
from envs.dataset import OfflineDataset, file_sha256
from envs.importers.common import (
    TaskLike,
    agent_axis,
    as_task,
    check_length,
    ends_terminated,
    fail,
    finish,
    finite,
    flags,
    observation_layout,
)
from envs.registry import TaskSpec, _norm, check_quality

LAYOUT = "og-marl-vault"
#: the public code that defines the layout (repositories, files)
REFERENCE = "instadeepai/og-marl og_marl/replay_buffers.py populate_from_vault; flashbax 0.1.3 flashbax/vault/vault.py"
TERMINAL_ROWS = ("auto", "last-step", "after-last-step")
#: the leaves every dataset needs, and a discrete one's action mask
LEAVES = ("observations", "actions", "rewards", "terminals", "truncations", "infos.state")
LEGALS = "infos.legals"
#: OG-MARL's environment folders (``og_marl/vault_utils/download_vault.py``) and the suite of each
ENV_SUITES = {"smac_v1": "smacv1", "smac_v2": "smacv2", "mamujoco": "mamujoco", "gymnasium_mamujoco": "mamujoco"}
#: OG-MARL's environments with no tasks here
OTHER_ENVS = ("flatland", "rware", "mpe", "pettingzoo", "lbf", "voltage_control", "kaz", "cityflow")
#: OG-MARL's scenario names whose task here is named otherwise (the rest are the same)
SCENARIO_TASKS = {"3hopper": "Hopper_3x1", "2ant": "Ant_2x4", "6halfcheetah": "HalfCheetah_6x1",
                  "2halfcheetah": "HalfCheetah_2x3", "4ant": "Ant_4x2", "2walker": "Walker2d_2x3"}


def import_og_marl_vault(path, task: TaskLike, quality: str, terminal_row: str = "auto") -> OfflineDataset:
    """One dataset (uid folder) of a Flashbax Vault; see the module doc for ``terminal_row``."""
    task, where = as_task(task), str(path).rstrip("/")
    check_quality(task, quality)
    if terminal_row not in TERMINAL_ROWS:
        raise ValueError(f"unknown terminal_row {terminal_row!r}; valid: {', '.join(TERMINAL_ROWS)}")
    meta = read_metadata(where)
    check_names(where, task)
    shapes = _leaf_shapes(meta, where, task)
    data = _read_leaves(where, shapes, meta)
    obs_layout = observation_layout(data["observations"][0], task.n_agents)
    rows = _resolve_rows(terminal_row, meta, task, obs_layout)
    state_from_obs = _state_from_observations(data, task, obs_layout)
    episodes, counts = [], {"rewards_differ": 0, "tail_rows": 0}
    for b in range(data["observations"].shape[0]):
        episodes += _row_episodes(data, b, rows, where, task, state_from_obs, counts)
    prov = {"layout": LAYOUT, "reference": REFERENCE, "source": "/".join(Path(where).parts[-3:]),
            "source_sha256": vault_sha256(where),
            "source_sha256_rule": "sha256 over the folder's files' sha256 hex digests, one per line, sorted by path",
            "vault_version": meta.get("version"), "batch_rows": int(data["observations"].shape[0]),
            "rows": int(data["observations"].shape[1]), "terminal_row": rows,
            "episode_end": "every agent's terminals or every agent's truncations is 1",
            "final_observation": ("the row after each episode's last step" if rows == "after-last-step" else
                                  "not recorded: the last step's observation repeated"),
            "unfinished_tail_rows": counts["tail_rows"],
            "rewards_differ_between_agents": counts["rewards_differ"], "team_reward": "agent 0's",
            "obs_layout": obs_layout,
            "state_source": ("agent 0's observation (infos.state has the observation's width)" if state_from_obs
                             else "infos.state")}
    return finish(episodes, task, quality, prov, where)


def read_metadata(where: str) -> dict:
    """``metadata.json`` of a Vault uid folder, its format checked; refusals say what the path is."""
    if not os.path.exists(where):
        fail(where, "no such Vault folder")
    if not os.path.isdir(where):
        fail(where, "not a folder: a Vault dataset is the folder <scenario>.vlt/<uid>/ (it holds metadata.json)")
    path = os.path.join(where, "metadata.json")
    if not os.path.isfile(path):
        uids = sorted(d for d in os.listdir(where) if os.path.isfile(os.path.join(where, d, "metadata.json")))
        if uids:
            fail(where, f"a Vault with the datasets {', '.join(uids)}: give one of their folders")
        fail(where, "not a Vault dataset folder (no metadata.json)")
    check_links(where)
    try:
        with open(path) as fh:
            meta = json.load(fh)
    except (OSError, ValueError) as exc:
        fail(where, f"metadata.json is not readable JSON ({exc})")
    if not isinstance(meta, dict):
        fail(where, "metadata.json does not hold an object")
    if "structure" in meta and "structure_shape" not in meta:
        fail(where, "a Vault of format 1.0 or older (one 'structure' key), which flashbax 0.1.3 cannot read")
    version = meta.get("version")
    if not isinstance(version, (int, float)) or int(version) != 1:
        fail(where, f"Vault format version {version!r}; flashbax 0.1.3 reads 1.x")
    for key in ("structure_shape", "structure_dtype"):
        if not isinstance(meta.get(key), dict):
            fail(where, f"metadata.json has no '{key}' tree")
    return meta


def check_links(where: str) -> None:
    """Refuse a symbolic link in the folder that leads out of it: TensorStore and flashbax follow
    links, so one would read (and checksum) files that are not the Vault's."""
    root = os.path.realpath(where)
    for folder, dirs, files in os.walk(where):  # links to folders are listed, not followed
        for name in dirs + files:
            entry = os.path.join(folder, name)
            if not os.path.islink(entry):
                continue
            target = os.path.realpath(entry)
            if os.path.commonpath([root, target]) != root:
                fail(where, f"{os.path.relpath(entry, where)} links to {target}, outside the Vault folder")


def check_names(where: str, task: TaskSpec) -> None:
    """The environment and scenario a path ``.../<env>/<scenario>.vlt/<uid>`` names, against ``task``."""
    vlt = Path(where).parent
    if not vlt.name.endswith(".vlt"):
        return  # a folder renamed by the user: the widths alone are checked
    env, scenario = vlt.parent.name, vlt.name[: -len(".vlt")]
    if env in OTHER_ENVS:
        fail(where, f"a Vault of OG-MARL's {env} environment, which has no tasks here (task {task.id})")
    suite = ENV_SUITES.get(env)
    if suite is not None and suite != task.suite:
        fail(where, f"a Vault of OG-MARL's {env} environment (suite {suite}), not of task {task.id}")
    if suite is not None and _norm(SCENARIO_TASKS.get(scenario, scenario)) != _norm(task.name):
        fail(where, f"a Vault of scenario {scenario!r}, not of task {task.id} (is --task the task of this Vault?)")


def flat_leaves(tree: dict, prefix: str = "") -> dict:
    """A nested leaf tree as ``{"infos.state": leaf, ...}``."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flat_leaves(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _leaf_shapes(meta: dict, where: str, task: TaskSpec) -> dict:
    """{leaf: (shape without the time axis, dtype)} of the leaves the task needs, from the metadata."""
    shapes, dtypes = flat_leaves(meta["structure_shape"]), flat_leaves(meta["structure_dtype"])
    if "actions" in dtypes:  # the kind of action first: it tells a Vault of another environment
        _check_action_kind(dtypes["actions"], where, task)
    need = LEAVES + ((LEGALS,) if task.discrete else ())
    missing = [k for k in need if k not in shapes or k not in dtypes]
    if missing:
        fail(where, f"missing leaf(s) {', '.join(missing)} (an OG-MARL {task.action_type} Vault has "
                    f"{', '.join(need)})")
    out = {}
    for k in need:
        try:
            shape = tuple(int(x) for x in str(shapes[k]).strip("()[] ").split(",") if x.strip())
            dtype = np.dtype(dtypes[k])
        except (TypeError, ValueError):
            fail(where, f"leaf '{k}' has shape {shapes[k]!r} / dtype {dtypes[k]!r} in metadata.json")
        if len(shape) < 2:
            fail(where, f"leaf '{k}' has shape {shape}, expected [rows, time, ...]")
        out[k] = (shape[:1] + shape[2:], dtype)
    return out


def _check_action_kind(dtype_name, where: str, task: TaskSpec) -> None:
    try:
        dtype = np.dtype(dtype_name)
    except TypeError:
        fail(where, f"leaf 'actions' has dtype {dtype_name!r} in metadata.json")
    integer = np.issubdtype(dtype, np.integer)
    if task.discrete and not integer:
        fail(where, f"actions are {dtype}: continuous actions, task {task.id} is discrete "
                    "(a Vault of another environment?)")
    if not task.discrete and integer:
        fail(where, f"actions are {dtype}: discrete actions, task {task.id} is continuous "
                    "(a Vault of another environment?)")


def _read_leaves(where: str, shapes: dict, meta: dict) -> dict:
    """The needed leaves as numpy arrays ``[B, rows, ...]`` (flashbax's ``Vault.read``), refused
    when empty or larger than the memory available now."""
    from flashbax.vault import Vault

    base = Path(where).resolve()
    quiet = io.StringIO()  # Vault prints where it loads from
    try:
        with contextlib.redirect_stdout(quiet):
            vault = Vault(vault_name=base.parent.name, rel_dir=str(base.parent.parent), vault_uid=base.name)
    except Exception as exc:  # noqa: BLE001 - tensorstore raises ValueError / OSError kinds for damaged stores
        fail(where, f"the Vault's arrays cannot be opened ({type(exc).__name__}: {str(exc)[:300]})")
    rows = int(vault.vault_index)
    if rows <= 0:
        fail(where, "an empty Vault (vault_index 0: nothing was written)")
    declared = sum(int(np.prod(s, dtype=np.float64)) * rows * d.itemsize for s, d in shapes.values())
    free = host_memory.available_memory_bytes()
    if 2 * declared > free:  # flashbax reads into JAX arrays, converted here: two copies at a time
        fail(where, f"declares {declared / 2**30:.1f} GiB of arrays, more than half the memory available now "
                    f"({free / 2**30:.1f} GiB): refusing to read")
    try:
        experience = flat_leaves(vault.read().experience)
    except Exception as exc:  # noqa: BLE001 - as above: a leaf's chunks missing or corrupt
        fail(where, f"the Vault's arrays cannot be read ({type(exc).__name__}: {str(exc)[:300]})")
    return {k: np.asarray(experience[k]) for k in shapes}


def _resolve_rows(terminal_row: str, meta: dict, task: TaskSpec, obs_layout: str) -> str:
    if terminal_row != "auto":
        return terminal_row
    if meta.get("terminal_row") in TERMINAL_ROWS[1:]:
        return meta["terminal_row"]
    authors = obs_layout.startswith("state + one-hot")
    return "after-last-step" if (not task.discrete and authors) else "last-step"


def _state_from_observations(data: dict, task: TaskSpec, obs_layout: str) -> bool:
    """OMIGA's MaMuJoCo ``infos.state`` is as wide as the observation (state + id, standardised):
    the raw state is then recovered from the observations."""
    state, obs = data["infos.state"], data["observations"]
    return (not task.discrete and task.n_agents >= 2 and obs_layout.startswith("state + one-hot")
            and state.ndim == 3 and state.shape[-1] == obs.shape[-1])


def _row_arrays(data: dict, b: int, where: str, task: TaskSpec, state_from_obs: bool) -> dict:
    """Batch row ``b`` checked: per-step arrays, team reward, end flags (terminal, any end)."""
    N, obs = task.n_agents, data["observations"][b]
    if obs.ndim != 3 or obs.shape[1] != N:
        fail(where, f"'observations' has shape {data['observations'].shape}, expected [rows, time, N={N}, O]")
    T = obs.shape[0]
    a = data["actions"][b]
    if task.discrete and a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.shape[:2] != (T, N) or a.ndim != (2 if task.discrete else 3):
        fail(where, f"'actions' has shape {data['actions'].shape}, expected [rows, time={T}, N={N}"
                    + ("]" if task.discrete else ", A]"))
    r = agent_axis(data["rewards"][b], where, "rewards", (T,), N)
    term = flags(agent_axis(data["terminals"][b], where, "terminals", (T,), N), where, "terminals").all(-1)
    trunc = flags(agent_axis(data["truncations"][b], where, "truncations", (T,), N), where, "truncations").all(-1)
    state = obs if state_from_obs else data["infos.state"][b]
    if state.shape[0] != T or state.ndim not in (2, 3) or (state.ndim == 3 and state.shape[1] != N):
        fail(where, f"'infos.state' has shape {data['infos.state'].shape}, expected [rows, time={T}, S] "
                    f"or per agent [rows, time, N={N}, S]")
    out = {"obs": obs, "state": state, "actions": a, "reward": r, "term": term, "end": term | trunc}
    if task.discrete:
        legal = data[LEGALS][b]
        if legal.shape[:2] != (T, N) or legal.ndim != 3:
            fail(where, f"'{LEGALS}' has shape {data[LEGALS].shape}, expected [rows, time={T}, N={N}, A]")
        out["avail"] = flags(legal, where, LEGALS)
    for key in ("obs", "state", "actions", "reward"):
        finite(out[key], where, key if key != "obs" else "observations")
    return out


def _segments(end: np.ndarray, rows: str) -> tuple:
    """(first row, flagged row) pairs, the unfinished tail as one more pair ((first, last) row),
    and the number of rows after the last flag."""
    T, ends = end.shape[0], np.flatnonzero(end)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    pairs = [(int(lo), int(hi), True) for lo, hi in zip(starts, ends, strict=True)]
    tail = T - (int(ends[-1]) + 1 if len(ends) else 0)
    if tail >= (1 if rows == "last-step" else 2):
        pairs.append((T - tail, T - 1, False))
    return pairs, tail


def _row_episodes(data: dict, b: int, rows: str, where: str, task: TaskSpec, state_from_obs: bool,
                  counts: dict) -> list:
    """The episodes of batch row ``b``: rows lo..hi are steps (``last-step``, the last observation
    repeated after them) or observations with steps lo..hi-1 (``after-last-step``)."""
    x = _row_arrays(data, b, where, task, state_from_obs)
    pairs, tail = _segments(x["end"], rows)
    counts["tail_rows"] += tail
    keys = ("obs", "state") + (("avail",) if task.discrete else ())
    episodes = []
    for lo, hi, flagged in pairs:
        stop = hi + 1 if rows == "last-step" else hi  # row after the last step
        L = stop - lo
        if L < 1:
            fail(where, f"row {hi} (batch row {b}) ends an episode right after "
                        f"{'the start' if hi == 0 else 'another end'}: an episode without a step")
        check_length(L, task.episode_limit, where, f"the episode of rows {lo}-{hi} (batch row {b})")
        rr = x["reward"][lo:stop]
        counts["rewards_differ"] += int((rr != rr[:, :1]).any(-1).sum())
        ep = {k: x[k][lo:hi + 1] for k in keys}
        if rows == "last-step":
            ep = {k: np.concatenate([v, v[-1:]]) for k, v in ep.items()}
        ep.update(actions=x["actions"][lo:stop], reward=rr[:, 0],
                  terminated=ends_terminated(L, flagged and bool(x["term"][hi]), task.episode_limit))
        episodes.append(ep)
    return episodes


def vault_sha256(where: str) -> str:
    """The checksum of a Vault uid folder: sha256 over its files' sha256 hex digests, one per line,
    the files sorted by their path relative to the folder."""
    files = sorted(p for p in Path(where).rglob("*") if p.is_file())
    text = "".join(f"{file_sha256(p)}\n" for p in files)
    return hashlib.sha256(text.encode()).hexdigest()

"""The harness's datasets as OG-MARL Vaults (flashbax 0.1.3), for OG-MARL's baselines to train on.

    path = export_og_marl_vault(load_dataset("results/smoke/datasets/smacv1/5m_vs_6m/good.h5"), "vaults")
    # vaults/og_marl/smac_v1/5m_vs_6m.vlt/Good/ -- populate_from_vault("og_marl", "smac_v1", "5m_vs_6m", "Good")

(or ``workflow/scripts/export_vault.py``).  The Vault lies at ``<rel_dir>/<source>/<env>/<scenario>.vlt/<uid>/``,
where ``og_marl/replay_buffers.py`` ``populate_from_vault`` opens it (and ``download_and_unzip_vault``,
finding the folder non-empty, downloads nothing).  Its leaves are those OG-MARL's systems read, batch
size 1, float32 but for discrete actions (int32)::

    observations [1, T, N, O]   actions [1, T, N] or [1, T, N, A]   rewards [1, T, N] (the team reward)
    terminals, truncations [1, T, N]   infos.state [1, T, S]   infos.legals [1, T, N, A] (discrete)

``terminal_row`` (``envs/importers/og_marl_vault.py``): ``last-step`` (the default, OG-MARL's own
recorder) writes one row per step, the episode's last step flagged in ``terminals`` (terminated) or
``truncations`` (time limit), the observation after it left out; ``after-last-step`` (OMIGA's) adds a
row per episode holding that observation (action 0, reward 0), flagged instead, so nothing is lost.
The metadata records ``terminal_row`` and where the data came from; the importer reads them back.

The default ``(source, env)`` is the pair OG-MARL's ``get_environment`` evaluates with the observation
the data hold: SMAC ``og_marl/smac_v1`` (``smac_v2``), MaMuJoCo ``og_marl/gymnasium_mamujoco`` for the
``local`` layout and ``omiga/mamujoco`` for the ``authors`` one.  SMAX data keep SMAX's widths, which
StarCraft II's environments do not produce: OG-MARL can train on them but not evaluate them.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np

from envs.dataset import OfflineDataset
from envs.importers.og_marl_vault import SCENARIO_TASKS, TERMINAL_ROWS

#: the harness's suites as OG-MARL's environment folders
SUITE_ENVS = {"smacv1": "smac_v1", "smacv2": "smac_v2", "mamujoco": "gymnasium_mamujoco"}


def vault_names(ds: OfflineDataset) -> tuple:
    """OG-MARL's ``(source, env, scenario, uid)`` for a dataset, from its attributes."""
    suite, task, quality = ds.meta["suite"], str(ds.meta["task"]), str(ds.meta["quality"])
    source, env = "og_marl", SUITE_ENVS.get(suite, suite)
    if suite == "mamujoco" and ds.obs.shape[2] > 0 and _authors_layout(ds):
        source, env = "omiga", "mamujoco"
    scenario = {v: k for k, v in SCENARIO_TASKS.items()}.get(task, task)
    uid = "-".join(part.capitalize() for part in quality.split("-"))
    return source, env, scenario, uid


def _authors_layout(ds: OfflineDataset) -> bool:
    from envs.importers.common import observation_layout

    return observation_layout(ds.obs, ds.n_agents).startswith("state + one-hot")


def vault_rows(ds: OfflineDataset, terminal_row: str = "last-step") -> dict:
    """The Vault's leaves (nested as OG-MARL's ``experience``) from a dataset."""
    if terminal_row not in TERMINAL_ROWS[1:]:
        raise ValueError(f"terminal_row must be one of {', '.join(TERMINAL_ROWS[1:])}, got {terminal_row!r}")
    N, T, E = ds.n_agents, ds.n_transitions, ds.n_episodes
    steps = {"observations": ds.obs, "state": ds.state, "actions": ds.actions, "reward": ds.reward,
             "terminals": ds.terminated, "truncations": ds.truncated}
    if ds.discrete:
        steps["legals"] = ds.avail
    if terminal_row == "after-last-step":
        ends = ds.episode_bounds()[:, 1]
        position = np.arange(T) + np.cumsum(ds.episode_start) - 1  # each step moves down by the episodes before
        final = ends + np.arange(E)
        last = ends - 1
        finals = {"observations": ds.final_obs, "state": ds.final_state, "actions": np.zeros_like(ds.actions[:E]),
                  "reward": np.zeros(E, ds.reward.dtype), "terminals": ds.terminated[last],
                  "truncations": ds.truncated[last], "legals": ds.final_avail}
        moved = {}
        for key, arr in steps.items():
            out = np.zeros((T + E,) + arr.shape[1:], arr.dtype)
            out[position] = arr
            if key in ("terminals", "truncations"):
                out[position] = False  # the flag sits on the row after the last step
            out[final] = finals[key]
            moved[key] = out
        steps = moved
    def per_agent(v):  # OG-MARL stores the team reward and the end flags once per agent
        return np.repeat(np.asarray(v, np.float32)[:, None], N, axis=1)[None]

    out = {"observations": steps["observations"].astype(np.float32)[None],
           "actions": steps["actions"].astype(np.int32 if ds.discrete else np.float32)[None],
           "rewards": per_agent(steps["reward"]), "terminals": per_agent(steps["terminals"]),
           "truncations": per_agent(steps["truncations"]),
           "infos": {"state": steps["state"].astype(np.float32)[None]}}
    if ds.discrete:
        out["infos"]["legals"] = steps["legals"].astype(np.float32)[None]
    return out


def export_og_marl_vault(ds: OfflineDataset, rel_dir, source: str | None = None, env: str | None = None,
                         scenario: str | None = None, uid: str | None = None,
                         terminal_row: str = "last-step") -> Path:
    """Write ``ds`` as a Vault at ``<rel_dir>/<source>/<env>/<scenario>.vlt/<uid>/`` (defaults:
    ``vault_names``) and return that folder; an existing one is refused."""
    from flashbax.buffers.trajectory_buffer import TrajectoryBufferState
    from flashbax.vault import Vault

    names = vault_names(ds)
    source, env, scenario, uid = (given or default for given, default in zip((source, env, scenario, uid), names,
                                                                               strict=True))
    base = Path(rel_dir).resolve() / source / env / f"{scenario}.vlt"
    if (base / uid).exists():
        raise FileExistsError(f"{base / uid}: exists already; a Vault is written once (remove it first)")
    experience = vault_rows(ds, terminal_row)
    rows = experience["observations"].shape[1]
    prov = ds.meta.get("provenance")
    metadata = {"terminal_row": terminal_row, "made_by": "ComaDICE harness (envs/importers/og_marl_vault_export.py)",
                "suite": ds.meta["suite"], "task": str(ds.meta["task"]), "quality": str(ds.meta["quality"]),
                "grade": str(ds.meta.get("grade", "")), "backend": str(ds.meta.get("backend", "")),
                "episodes": ds.n_episodes, "transitions": ds.n_transitions,
                "provenance": json.dumps(prov, sort_keys=True) if isinstance(prov, dict) else str(prov or "")}
    with contextlib.redirect_stdout(io.StringIO()):  # Vault prints where it writes
        vault = Vault(vault_name=f"{source}/{env}/{scenario}.vlt", experience_structure=experience,
                      rel_dir=str(Path(rel_dir).resolve()), vault_uid=uid, metadata=metadata)
        state = TrajectoryBufferState(experience=experience, current_index=np.int32(rows), is_full=np.bool_(False))
        written = vault.write(state, source_interval=(0, rows))
    if written != rows:
        raise RuntimeError(f"{base / uid}: wrote {written} of {rows} rows")
    return base / uid

"""Importers: the paper's published datasets into our HDF5 format (``envs/dataset.py``).

Anyone holding the files the paper trained on can rerun the benchmark on them::

    ds = import_comadice_npz("5m_vs_6m_good.npz", get_task("smacv1/5m_vs_6m"), "good")
    write_dataset(ds, "results/datasets/smacv1/5m_vs_6m/good.h5")

(or ``workflow/scripts/import_dataset.py``).  Four layouts, each read as the public code that
consumes it reads it, each in its own module (whose docstring describes the layout); ``IMPORTERS``
is the table of them:

``comadice-npz`` -- the paper's code (``envs/importers/comadice_npz.py``).
``omiga-hdf5`` -- OMIGA's MaMuJoCo files (``envs/importers/omiga_hdf5.py``).
``madt`` -- MADT's SMAC episodes, one file per episode (``envs/importers/madt.py``).
``og-marl-vault`` -- OG-MARL's Flashbax Vaults, one uid folder (``envs/importers/og_marl_vault.py``;
its inverse, the harness's datasets as Vaults, is ``envs/importers/og_marl_vault_export.py``).

What they share is ``envs/importers/common.py``.

Decisions (recorded in every file's ``provenance``):

- *Terminated vs truncated*.  An episode of ``task.episode_limit`` steps is **truncated** (it
  bootstraps): SMAC and MaMuJoCo set ``done`` at the time limit too, so at that length the flag
  cannot tell a decided battle (or a fall) from the clock, and the clock is by far the likelier.
  A shorter episode whose done flag is set on its last step (for per-agent flags: every agent's)
  is **terminated**; a shorter one without the flag (a cut recording) is truncated.  An episode
  longer than the limit is refused: the data and the task do not match.
- *Episodes in OMIGA's files* come from the ``d`` flags alone (``envs/importers/omiga_hdf5.py``).
- *State*.  The sources store one state per agent (MAPPO's agent-specific SMAC state, or
  MaMuJoCo's state + id standardised for each agent); the paper's mixers (and OMIGA's) take the
  agents' states concatenated.  Where the copies are identical we keep one; otherwise the state is
  their concatenation in agent order (``state_layout`` in the provenance).
- Observation, state and action sizes are the source's, which can differ from the registry's
  simulator (SMAX, MuJoCo v5 local observations); ``obs_layout`` says what the observation is, and
  :func:`envs.importers.common.state_id_obs` rebuilds the MaMuJoCo one from a raw state for evaluation.

Each importer returns an :class:`OfflineDataset` with grade ``"imported"``, backend ``"imported"``
and a provenance naming the layout, the source file name(s) and the source's sha256 (for a
directory: the sha256 over the sorted files' sha256 digests).  A malformed source raises
:class:`DatasetError` naming the file and the problem.
"""
from __future__ import annotations

from envs.dataset import OfflineDataset
from envs.importers.comadice_npz import import_comadice_npz
from envs.importers.common import TaskLike
from envs.importers.madt import import_madt_episodes
from envs.importers.og_marl_vault import import_og_marl_vault
from envs.importers.omiga_hdf5 import import_omiga_hdf5

#: the layouts: each name (``--layout`` of ``workflow/scripts/import_dataset.py``) and the function
#: that imports a source of that layout ``(source, task, quality) -> OfflineDataset``
IMPORTERS = {"comadice-npz": import_comadice_npz, "omiga-hdf5": import_omiga_hdf5, "madt": import_madt_episodes,
             "og-marl-vault": import_og_marl_vault}
LAYOUTS = tuple(IMPORTERS)


def import_dataset(layout: str, source, task: TaskLike, quality: str, **options) -> OfflineDataset:
    """``options``: a layout's own keyword arguments (``og-marl-vault``: ``terminal_row``)."""
    if layout not in IMPORTERS:
        raise ValueError(f"unknown layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    return IMPORTERS[layout](source, task, quality, **options)

"""The MaMuJoCo behaviour run on disk (``results/<profile>/behaviour/mamujoco/{task}/run.pt``):
the ARS or MAPPO run whose checkpoints and replay make that task's datasets.

A run is written with ``torch.save`` and read with ``torch.load(weights_only=True)`` and a numpy
allowlist (``envs.files.load_tensors``): its checkpoints' parameters, recorded episodes and
curve are tensors, arrays, numbers and containers, and a file that names anything else -- the
way a crafted pickle runs code when it is loaded -- is refused unexecuted, naming the file.  (It
was a plain pickle, ``run.pkl``, read with ``pickle.load``: any file put there ran its code in
the dataset rule.)  The SMAC-like suites' runs are ``.npz`` files with a JSON header, read with
``allow_pickle=False`` (``behaviour/smac_like/run_file.py``).
"""
from __future__ import annotations

from envs.files import load_tensors, save_tensors

KINDS = ("ars", "mappo")


def save_behaviour_run(run: dict, path) -> None:
    """Write ``run`` (with its ``kind``: ars or mappo) atomically; a full disk is named as such."""
    if run.get("kind") not in KINDS:
        raise ValueError(f"a behaviour run needs 'kind' in {KINDS}, got {run.get('kind')!r}")
    save_tensors(path, run)


def load_behaviour_run(path) -> dict:
    """Read a run of :func:`save_behaviour_run`; a file that would run code, is not such a run
    (a directory, truncated, another format) or lacks its checkpoints is refused naming it."""
    run = load_tensors(path, "MaMuJoCo behaviour run (behaviour/d4rl_like/run_file.py)")
    if not isinstance(run, dict):
        raise ValueError(f"{path}: holds a {type(run).__name__}, not a behaviour run (a mapping)")
    if run.get("kind") not in KINDS:
        raise ValueError(f"{path}: 'kind' is {run.get('kind')!r}, expected one of {', '.join(KINDS)}")
    if not isinstance(run.get("checkpoints"), list) or not run["checkpoints"]:
        raise ValueError(f"{path}: no checkpoints: not a complete behaviour run")
    return run

"""Resume files of long behaviour runs: the whole state of a run at an iteration boundary,
written atomically beside the run's output (``run.pt`` -> ``run.pt.resume``; not a declared
Snakemake output, so a failed job leaves it for the rerun).

A resume file carries a *fingerprint* (the run's configuration: task, seed, lengths,
hyperparameters and, for the offline training runs, the code version of ``harness/provenance.py``);
a file whose fingerprint differs from the run asking for it is refused and the run restarts from
iteration 0, saying why.  So is a file that cannot be used at all: a directory of that name, a
truncated or garbage file, one of another resume version, one without a fingerprint, and -- through
:func:`set_aside`, called by the learner that found it -- one whose state does not fit the run
(a ``state_dict`` of other shapes).  A refused file is never deleted: it is *set aside*, renamed to
``<name>.unusable-<time>`` beside it (a rerun then starts clean instead of failing the same way
forever, and the file is still there to look at), and the log names it and the reason.  Files are
read with ``torch.load(weights_only=True)`` and a numpy allowlist (``envs.files.load_tensors``):
no code runs when one is loaded.
"""
from __future__ import annotations

import os
import random
import time
from pathlib import Path

import numpy as np
import torch

from envs.files import UnsafeFileError, load_tensors, save_tensors
from envs.simulators import ResumableVectorEnv

RESUME_VERSION = 1


def resume_path(output) -> Path:
    """Where the resume state of the run writing ``output`` lives."""
    output = Path(output)
    return output.with_name(output.name + ".resume")


def global_rng_states() -> dict:
    """The process-wide generators: Python's, numpy's legacy one, torch's (CPU and CUDA)."""
    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["torch_cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_global_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "torch_cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch_cuda"])


def save_resume(path, fingerprint: dict, state: dict) -> None:
    save_tensors(path, {"resume_version": RESUME_VERSION, "fingerprint": fingerprint, "state": state,
                        "rng": global_rng_states()})


def set_aside(path, reason: str, log=print) -> Path | None:
    """Rename an unusable resume state to ``<name>.unusable-<time>`` (never delete it) and log
    why; the new path, or None when even the rename failed (then the run must not start over it)."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.unusable-{stamp}")
    k = 1
    while target.exists():
        target, k = path.with_name(f"{path.name}.unusable-{stamp}-{k}"), k + 1
    try:
        os.replace(path, target)
    except OSError as exc:
        raise OSError(f"{path}: unusable resume state ({reason}), and it could not be set aside "
                      f"({type(exc).__name__}: {exc}); move or remove it, then rerun") from exc
    log(f"{path}: {reason}; set aside as {target.name}, restarting from scratch")
    return target


def load_resume(path, fingerprint: dict, log=print) -> dict | None:
    """The saved state (global RNGs already restored), or None to start from scratch: no file,
    or a file that is unusable or from a different configuration or code version (set aside,
    with the reason logged).  A caller whose state then does not fit calls :func:`set_aside`."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return None
    try:
        saved = load_tensors(path, "resume state")
    except (UnsafeFileError, OSError) as exc:
        set_aside(path, f"unusable resume state ({str(exc).removeprefix(f'{path}: ')[:300]})", log)
        return None
    problem = None
    if not isinstance(saved, dict):
        problem = f"holds a {type(saved).__name__}, not a resume state"
    elif saved.get("resume_version") != RESUME_VERSION:
        problem = f"resume_version {saved.get('resume_version')!r}, expected {RESUME_VERSION}"
    else:
        missing = [k for k in ("fingerprint", "state", "rng") if k not in saved]
        if missing:
            problem = f"no {', '.join(missing)} recorded"
        elif not isinstance(saved["fingerprint"], dict):
            problem = f"its fingerprint is a {type(saved['fingerprint']).__name__}, not a mapping"
    if problem is not None:
        set_aside(path, f"unusable resume state ({problem})", log)
        return None
    if saved["fingerprint"] != fingerprint:
        diff = sorted(k for k in set(fingerprint) | set(saved["fingerprint"])
                      if fingerprint.get(k) != saved["fingerprint"].get(k))
        what = "code version and configuration" if "code_version" in diff and len(diff) > 1 else \
            "code version" if diff == ["code_version"] else "configuration"
        set_aside(path, f"resume state of a different {what} (differs in {', '.join(diff)}); refused", log)
        return None
    before = global_rng_states()
    try:
        set_global_rng_states(saved["rng"])
    except Exception as exc:  # noqa: BLE001 - a damaged generator state: the file cannot be used
        set_global_rng_states(before)  # the fresh start draws what an untouched process would
        set_aside(path, f"unusable resume state (its random generators' state: {type(exc).__name__}: "
                        f"{str(exc)[:200]})", log)
        return None
    return saved["state"]


def discard_resume(path) -> None:
    """The run finished and its output is written: the resume state is no longer needed."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------------------------------------
# Simulator states: what a batched environment needs to continue its episodes exactly where a
# saved run left them (numpy arrays and numbers only, so the resume file stays code-free).  Each
# backend's VectorEnv that can resume saves and restores its own (``envs/simulators.py``
# ``ResumableVectorEnv``: ``get_state`` / ``set_state``).

def resumable(venv) -> bool:
    """Whether ``venv`` can save and restore its state (``ResumableVectorEnv``)."""
    return isinstance(venv, ResumableVectorEnv)


def vector_env_state(venv) -> dict:
    """The state of a batched environment (its backend's ``VectorEnv.get_state``)."""
    if not resumable(venv):
        raise NotImplementedError(f"{type(venv).__name__} cannot save its simulator state "
                                  "(its backend's VectorEnv has no get_state)")
    return venv.get_state()


def set_vector_env_state(venv, st: dict) -> None:
    """Put a state from :func:`vector_env_state` back into an environment of the same task and size
    (after it has been reset once, so that its structures exist)."""
    if not resumable(venv):
        raise NotImplementedError(f"{type(venv).__name__} cannot restore a simulator state")
    venv.set_state(st)

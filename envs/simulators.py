"""One entry point to every backend: batched environments and batched evaluation.

A task's ``backend`` names its entry in ``envs/suites.py`` ``BACKENDS``, whose module gives
the same names for every backend:

    VectorEnv(task, num_envs, seed)                        ``num_envs`` episodes stepped together
    evaluate(task, policy, n_episodes, seed=0, venv=None)  one batched evaluation (dict below)
    version(task)                                          the simulator's version, as datasets record it
    task_spec(task)                                        (a backend that is not its suites' default)
                                                           the task with this backend's own sizes

so a new backend is its module and one ``BACKENDS`` line.  Modules are imported on first use.
"""
from __future__ import annotations

import importlib

from envs.spec import TaskSpec
from envs.suites import BACKENDS


def backend_module(task: TaskSpec):
    """The module that implements ``task``'s backend."""
    if task.backend not in BACKENDS:
        raise ValueError(f"task {task.id} has unknown backend {task.backend!r}; valid: {', '.join(BACKENDS)}")
    return importlib.import_module(BACKENDS[task.backend].module)


def make_vector_env(task: TaskSpec, num_envs: int, seed: int = 0):
    """A backend that steps ``num_envs`` episodes of ``task`` together."""
    return backend_module(task).VectorEnv(task, num_envs, seed)


def evaluate(task: TaskSpec, policy, n_episodes: int, seed: int = 0, venv=None) -> dict:
    """Play ``n_episodes`` episodes at once with ``policy(obs [E,N,O], avail) -> actions``.

    Returns ``win_rate`` (fraction, NaN for MaMuJoCo), ``return_mean`` and per-episode arrays.
    """
    return backend_module(task).evaluate(task, policy, n_episodes, seed, venv)


def backend_version(task: TaskSpec) -> str:
    return backend_module(task).version(task)

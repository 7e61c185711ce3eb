"""One entry point to every backend: batched environments and batched evaluation."""
from __future__ import annotations

from tasks.registry import TaskSpec


def make_vector_env(task: TaskSpec, num_envs: int, seed: int = 0):
    """A backend that steps ``num_envs`` episodes of ``task`` together."""
    if task.backend == "smax":
        from tasks.smax_backend import SMAXVectorEnv
        return SMAXVectorEnv(task, num_envs, seed)
    if task.backend == "mamujoco":
        from tasks.mamujoco_backend import MaMuJoCoVectorEnv
        return MaMuJoCoVectorEnv(task, num_envs, seed)
    if task.backend == "sc2":
        from tasks.sc2_backend import SC2VectorEnv  # real StarCraft II (COMADICE_SMAC_BACKEND=sc2)
        return SC2VectorEnv(task, num_envs, seed)
    raise ValueError(f"task {task.id} has unknown backend {task.backend!r}")


def evaluate(task: TaskSpec, policy, n_episodes: int, seed: int = 0, venv=None) -> dict:
    """Play ``n_episodes`` episodes at once with ``policy(obs [E,N,O], avail) -> actions``.

    Returns ``win_rate`` (fraction, NaN for MaMuJoCo), ``return_mean`` and per-episode arrays.
    """
    if task.backend in ("smax", "sc2"):  # the same batched loop over either StarCraft backend
        from tasks.smax_backend import evaluate_smax
        return evaluate_smax(task, policy, n_episodes, seed, venv or make_vector_env(task, n_episodes, seed))
    if task.backend == "mamujoco":
        from tasks.mamujoco_backend import evaluate_mamujoco
        return evaluate_mamujoco(task, policy, n_episodes, seed, venv)
    raise ValueError(f"task {task.id} has unknown backend {task.backend!r}")


def backend_version(task: TaskSpec) -> str:
    from importlib.metadata import version
    if task.backend == "smax":
        return f"jaxmarl {version('jaxmarl')}, jax {version('jax')}"
    if task.backend == "sc2":
        return "StarCraft II via " + ("smacv2" if task.suite == "smacv2" else "smac")
    if task.backend == "mamujoco":
        return f"gymnasium-robotics {version('gymnasium-robotics')}, mujoco {version('mujoco')}"
    return task.backend

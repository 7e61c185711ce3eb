"""Augmented Random Search: the smoke generator's MaMuJoCo behaviour learner.

ARS (Mania et al. 2018, ARS V2-t: linear policy on the normalised global state, antithetic
perturbations, top-b directions) is the simplest honest online learner for MaMuJoCo.  Its
checkpoints and rollouts make the smoke-grade D4RL-style datasets
(``behaviour.d4rl_like.datasets.mamujoco_from_ars``); the paper-grade ones come from MAPPO runs
(``behaviour.d4rl_like.mappo``).
"""
from __future__ import annotations

import numpy as np

from behaviour.d4rl_like.running_stats import RunningMeanVar
from behaviour.episodes import EpisodeRecorder
from envs.registry import TaskSpec

#: healthy reward per step of the MuJoCo v5 robots (Gymnasium docs), removed while ARS trains
ALIVE_BONUS = {"Hopper": 1.0, "Ant": 1.0, "HalfCheetah": 0.0}


def play_linear_policies(task, venv, weights, mean, std, noise=0.0, rng=None, record=False, shift=0.0):
    """One episode per env, env i acting with linear policy ``weights[i]`` on the normalised state.

    Returns the episode returns minus ``shift`` per step (ARS's alive-bonus removal), the
    visited states and, if ``record``, the episodes with the true rewards (lists per step, as
    the run keeps them; those cut by the step limit with ``terminated=False``)."""
    obs, state, _ = venv.reset()
    E, N, A = venv.num_envs, task.n_agents, task.action_dim
    active = np.ones(E, bool)
    ret = np.zeros(E)
    states = []
    recorder = EpisodeRecorder(obs, state) if record else None
    for _ in range(task.episode_limit):
        z = (state - mean) / std
        act = np.tanh(np.einsum("eas,es->ea", weights, z)).reshape(E, N, A)
        if noise:
            act = np.clip(act + noise * rng.standard_normal(act.shape), -1, 1)
        states.append(state[active])
        r, term, trunc, _ = venv.step(act)
        obs, state, _ = venv.observe()
        if record:
            recorder.record(np.flatnonzero(active), act, r, obs, state)
            for i in np.flatnonzero(active & (term | trunc)):
                recorder.finish(i, terminated=bool(term[i]))
        ret += (r - shift) * active
        active &= ~(term | trunc)
        if not active.any():
            break
    traj = None
    if record:
        traj = recorder.open
        for t in traj:
            t.setdefault("terminated", False)
    return ret, np.concatenate(states), traj


def train_ars(task: TaskSpec, iterations: int, directions: int = 8, top: int = 4, step_size: float = 0.02,
              noise: float = 0.03, seed: int = 0, log=print, resume_file=None, resume_every: int = 1) -> dict:
    """ARS V2-t (Mania et al. 2018, Alg. 2).  Returns checkpoints, their returns and all rollouts.

    As in the ARS paper (Sec. 4.1), the healthy (alive) bonus is subtracted from the
    training rewards of Hopper and Ant, or the search settles on standing still; the
    checkpoints' returns and the recorded data keep the true rewards.

    With ``resume_file``, the run's state (policy, state normaliser, random generators, the
    environments' episode counters that seed their resets, checkpoints and rollouts so far) is
    saved there every ``resume_every`` iterations, and a rerun continues from it to the same
    result bit for bit (``envs/resume.py``; a file of another configuration is refused)."""
    from envs.resume import discard_resume, load_resume, save_resume, set_aside
    from envs.simulators import make_vector_env

    rng = np.random.default_rng(seed)
    A, S = task.n_agents * task.action_dim, task.state_dim
    venv = make_vector_env(task, 2 * directions, seed)
    eval_env = make_vector_env(task, 4, seed + 1)
    norm = RunningMeanVar(S)  # of the visited states
    M = np.zeros((A, S))
    ckpts, rollouts = [], []
    start = 0
    fingerprint = {"kind": "ars", "task": task.id, "obs_layout": task.obs_layout, "iterations": iterations,
                   "directions": directions, "top": top, "step_size": step_size, "noise": noise, "seed": seed}
    saved = load_resume(resume_file, fingerprint, log) if resume_file else None
    if saved is not None:
        try:
            start, M, ckpts, rollouts = saved["iteration"], saved["M"], saved["checkpoints"], saved["rollouts"]
            if np.shape(M) != (A, S):
                raise ValueError(f"policy of shape {list(np.shape(M))}, the task's is {[A, S]}")
            norm.set_state(saved["norm"])
            rng.bit_generator.state = saved["rng"]
            venv._episode, eval_env._episode = saved["env_episodes"]
        except Exception as exc:  # noqa: BLE001 - loads but does not fit this run: set aside, start clean
            set_aside(resume_file, f"resume state does not fit the run ({type(exc).__name__}: {str(exc)[:300]})", log)
            return train_ars(task, iterations, directions, top, step_size, noise, seed, log, resume_file, resume_every)
        log(f"[ARS {task.name}] resumed at iteration {start} from {resume_file}")
    for it in range(start, iterations + 1):
        if resume_file and it > start and (it - start) % max(1, resume_every) == 0:
            save_resume(resume_file, fingerprint, {
                "iteration": it, "M": M, "checkpoints": ckpts, "rollouts": rollouts,
                "norm": norm.state(), "rng": rng.bit_generator.state,
                "env_episodes": (venv._episode, eval_env._episode)})
        # the sample std of the visited states (ARS V2's normaliser)
        mean, std = norm.mean.copy(), norm.std(ddof=1, eps=1e-8)
        ev, _, _ = play_linear_policies(task, eval_env, np.repeat(M[None], 4, 0), mean, std)
        ckpts.append({"iteration": it, "weights": M.copy(), "mean": mean, "std": std, "return": float(ev.mean())})
        log(f"[ARS {task.name}] iteration {it}: return {ev.mean():.1f}")
        if it == iterations:
            break
        delta = rng.standard_normal((directions, A, S))
        W = np.concatenate([M + noise * delta, M - noise * delta])
        ret, states, traj = play_linear_policies(task, venv, W, mean, std, record=True,
                                      shift=ALIVE_BONUS.get(task.backend_kwargs["scenario"], 0.0))
        rollouts.append(traj)
        norm.update(states)
        r_plus, r_minus = ret[:directions], ret[directions:]
        best = np.argsort(-np.maximum(r_plus, r_minus))[:top]
        sigma = np.concatenate([r_plus[best], r_minus[best]]).std() + 1e-8
        M = M + step_size / (top * sigma) * np.einsum("k,kas->as", r_plus[best] - r_minus[best], delta[best])
    if resume_file:
        discard_resume(resume_file)
    return {"checkpoints": ckpts, "rollouts": rollouts}

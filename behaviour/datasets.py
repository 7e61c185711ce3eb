"""Smoke-grade behaviour data: the simplest honest sources, clearly labelled ``grade="smoke"``.

- SMAX: SMAX's own heuristic micromanagement (attack the closest enemy in range, else
  advance) applied to our units, each agent replacing its action by a uniformly random
  available one with a quality-dependent probability ``SMAX_EPSILON``.  Lower epsilon,
  better play: poor < medium < good in return.
- MaMuJoCo: a short run of an online learner, Augmented Random Search (Mania et al.
  2018, ARS V2-t: linear policy on the normalised global state, antithetic
  perturbations, top-b directions).  Its checkpoints give D4RL-style qualities:
  expert = the final policy, medium = the learnt checkpoint whose return is closest to
  ``MEDIUM_FRACTION`` of the final one, medium-replay = every rollout of the run up to
  that checkpoint, medium-expert = medium and expert together.

The paper-grade generators (MAPPO / HAPPO behaviour learners) belong to a later issue.
"""
from __future__ import annotations

import numpy as np

from tasks.dataset import OfflineDataset, from_episodes
from tasks.registry import TaskSpec, check_quality
from tasks.simulators import backend_version

#: probability of a random action instead of the heuristic one, per SMAC quality
SMAX_EPSILON = {"poor": 0.9, "medium": 0.5, "good": 0.1}
#: medium checkpoint: the one whose evaluation return is closest to this fraction of the final one
#: (D4RL's medium policies reach about a third of expert return)
MEDIUM_FRACTION = 0.4
#: healthy reward per step of the MuJoCo v5 robots (Gymnasium docs), removed while ARS trains
ALIVE_BONUS = {"Hopper": 1.0, "Ant": 1.0, "HalfCheetah": 0.0}


def _meta(task: TaskSpec, quality: str, provenance: dict) -> dict:
    return {"suite": task.suite, "task": task.name, "quality": quality, "backend": task.backend,
            "backend_version": backend_version(task), "action_type": task.action_type,
            "n_agents": task.n_agents, "approximation": task.approximation,
            "obs_layout": task.obs_layout, "grade": "smoke", "provenance": provenance}


def run_obs_layout(task: TaskSpec, run: dict) -> str:
    """The MaMuJoCo observation layout a MAPPO run acted on: recorded as ``obs_layout`` or, for
    runs that predate the option, read off its actor's input width (obs + one-hot id)."""
    if run.get("obs_layout"):
        return run["obs_layout"]
    from tasks.registry import with_obs_layout
    weight = next(v for k, v in run["checkpoints"][0]["state_dict"].items() if k.startswith("actor.") and v.dim() == 2)
    width = int(weight.shape[1]) - task.n_agents
    for layout in ("authors", "local"):
        if with_obs_layout(task, layout).obs_dim == width:
            return layout
    raise ValueError(f"the MAPPO run of {task.id} acts on {width}-wide observations, neither layout of the task")


def in_task_layout(task: TaskSpec, episodes: list, acted_on: str) -> list:
    """Episodes recorded while the behaviour policy saw ``acted_on`` observations, with the obs the
    task is configured with: the authors' layout is a function of the state, so it is rebuilt
    from the recorded states; local observations cannot be rebuilt from states."""
    if task.obs_layout == acted_on:
        return episodes
    if task.obs_layout != "authors":
        raise ValueError(f"{task.id} is configured with '{task.obs_layout}' observations but the behaviour "
                         f"run recorded '{acted_on}' ones, from which they cannot be rebuilt; retrain it with "
                         f"COMADICE_MAMUJOCO_OBS={task.obs_layout}")
    from tasks.mamujoco_backend import authors_observation
    return [{**e, "obs": authors_observation(np.asarray(e["state"]), task.n_agents)} for e in episodes]


def play_episodes(task: TaskSpec, venv, act, n_episodes: int, on_reset=None) -> list:
    """Record ``n_episodes`` whole episodes from a batched env: ``act(obs, avail) -> actions``.

    Each episode is a dict of obs [L+1, N, O], state [L+1, S], actions [L, ...], reward [L],
    (discrete) avail [L+1, N, A], ``terminated`` and ``win`` -- the input of ``from_episodes``.
    Batches of ``venv.num_envs`` episodes are played until enough have ended."""
    E, episodes = venv.num_envs, []
    while len(episodes) < n_episodes:
        obs, state, avail = venv.reset()
        if on_reset is not None:
            on_reset()
        keep_avail = avail is not None
        traj = [dict(obs=[obs[i]], state=[state[i]], actions=[], reward=[],
                     **({"avail": [avail[i]]} if keep_avail else {})) for i in range(E)]
        active = np.ones(E, bool)
        for _ in range(task.episode_limit + 1):
            a = act(obs, avail)
            r, term, trunc, won = venv.step(a)
            obs, state, avail = venv.observe()
            for i in np.flatnonzero(active):
                t = traj[i]
                t["actions"].append(a[i]); t["reward"].append(r[i]); t["obs"].append(obs[i]); t["state"].append(state[i])
                if keep_avail:
                    t["avail"].append(avail[i])
                if term[i] or trunc[i]:
                    t["terminated"], t["win"] = bool(term[i]), bool(won[i])
            active &= ~(term | trunc)
            if not active.any():
                break
        for t in traj:
            if "terminated" in t and len(episodes) < n_episodes:
                episodes.append({k: np.asarray(v) if isinstance(v, list) else v for k, v in t.items()})
    return episodes


def collect_smax(task: TaskSpec, quality: str, n_episodes: int, seed: int = 0, batch: int = 64) -> OfflineDataset:
    """Episodes of the epsilon-heuristic behaviour policy on SMAX."""
    from tasks.smax_backend import SMAXHeuristicAllies, SMAXVectorEnv

    check_quality(task, quality)
    eps = SMAX_EPSILON[quality]
    venv = SMAXVectorEnv(task, batch, seed)
    allies = SMAXHeuristicAllies(venv, seed)
    episodes = play_episodes(task, venv, lambda obs, avail: allies(eps), n_episodes, on_reset=allies.reset)
    wins = [e["win"] for e in episodes]
    prov = {"behaviour": "smax-heuristic-epsilon", "epsilon": eps, "seed": seed,
            "episodes": n_episodes, "win_rate": float(np.mean(wins))}
    return from_episodes(episodes, _meta(task, quality, prov))


# -- MaMuJoCo: Augmented Random Search ----------------------------------------------------

class _RunningNorm:
    def __init__(self, dim):
        self.n, self.mean, self.m2 = 0, np.zeros(dim), np.zeros(dim)

    def update(self, x):
        for row in np.atleast_2d(x):
            self.n += 1
            d = row - self.mean
            self.mean += d / self.n
            self.m2 += d * (row - self.mean)

    @property
    def std(self):
        return np.sqrt(self.m2 / max(self.n - 1, 1)) + 1e-8 if self.n > 1 else np.ones_like(self.mean)


def _rollouts(task, venv, weights, mean, std, noise=0.0, rng=None, record=False, shift=0.0):
    """One episode per env, env i acting with linear policy ``weights[i]`` on the normalised state.

    Returns the episode returns minus ``shift`` per step (ARS's alive-bonus removal), the
    visited states and, if ``record``, the trajectories with the true rewards."""
    obs, state, _ = venv.reset()
    E, N, A = venv.num_envs, task.n_agents, task.action_dim
    active = np.ones(E, bool)
    ret = np.zeros(E)
    states = []
    traj = [dict(obs=[obs[i]], state=[state[i]], actions=[], reward=[]) for i in range(E)] if record else None
    for _ in range(task.episode_limit):
        z = (state - mean) / std
        act = np.tanh(np.einsum("eas,es->ea", weights, z)).reshape(E, N, A)
        if noise:
            act = np.clip(act + noise * rng.standard_normal(act.shape), -1, 1)
        states.append(state[active])
        r, term, trunc, _ = venv.step(act)
        obs, state, _ = venv.observe()
        if record:
            for i in np.flatnonzero(active):
                t = traj[i]
                t["actions"].append(act[i]); t["reward"].append(r[i]); t["obs"].append(obs[i]); t["state"].append(state[i])
                if term[i] or trunc[i]:
                    t["terminated"] = bool(term[i])
        ret += (r - shift) * active
        active &= ~(term | trunc)
        if not active.any():
            break
    if record:
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
    result bit for bit (``tasks/resume.py``; a file of another configuration is refused)."""
    from tasks.mamujoco_backend import MaMuJoCoVectorEnv
    from tasks.resume import discard_resume, load_resume, save_resume

    rng = np.random.default_rng(seed)
    A, S = task.n_agents * task.action_dim, task.state_dim
    venv = MaMuJoCoVectorEnv(task, 2 * directions, seed)
    eval_env = MaMuJoCoVectorEnv(task, 4, seed + 1)
    norm = _RunningNorm(S)
    M = np.zeros((A, S))
    ckpts, rollouts = [], []
    start = 0
    fingerprint = {"kind": "ars", "task": task.id, "obs_layout": task.obs_layout, "iterations": iterations,
                   "directions": directions, "top": top, "step_size": step_size, "noise": noise, "seed": seed}
    saved = load_resume(resume_file, fingerprint, log) if resume_file else None
    if saved is not None:
        start, M, ckpts, rollouts = saved["iteration"], saved["M"], saved["checkpoints"], saved["rollouts"]
        norm.n, norm.mean, norm.m2 = saved["norm"]
        rng.bit_generator.state = saved["rng"]
        venv._episode, eval_env._episode = saved["env_episodes"]
        log(f"[ARS {task.name}] resumed at iteration {start} from {resume_file}")
    for it in range(start, iterations + 1):
        if resume_file and it > start and (it - start) % max(1, resume_every) == 0:
            save_resume(resume_file, fingerprint, {
                "iteration": it, "M": M, "checkpoints": ckpts, "rollouts": rollouts,
                "norm": (norm.n, norm.mean, norm.m2), "rng": rng.bit_generator.state,
                "env_episodes": (venv._episode, eval_env._episode)})
        mean, std = norm.mean.copy(), norm.std.copy()
        ev, _, _ = _rollouts(task, eval_env, np.repeat(M[None], 4, 0), mean, std)
        ckpts.append({"iteration": it, "weights": M.copy(), "mean": mean, "std": std, "return": float(ev.mean())})
        log(f"[ARS {task.name}] iteration {it}: return {ev.mean():.1f}")
        if it == iterations:
            break
        delta = rng.standard_normal((directions, A, S))
        W = np.concatenate([M + noise * delta, M - noise * delta])
        ret, states, traj = _rollouts(task, venv, W, mean, std, record=True, shift=ALIVE_BONUS.get(task.backend_kwargs["scenario"], 0.0))
        rollouts.append(traj)
        norm.update(states)
        r_plus, r_minus = ret[:directions], ret[directions:]
        best = np.argsort(-np.maximum(r_plus, r_minus))[:top]
        sigma = np.concatenate([r_plus[best], r_minus[best]]).std() + 1e-8
        M = M + step_size / (top * sigma) * np.einsum("k,kas->as", r_plus[best] - r_minus[best], delta[best])
    if resume_file:
        discard_resume(resume_file)
    return {"checkpoints": ckpts, "rollouts": rollouts}


def mamujoco_dataset(task: TaskSpec, quality: str, run: dict, n_episodes: int, seed: int = 0,
                     action_noise: float = 0.05) -> OfflineDataset:
    """D4RL-style quality levels from an ARS run (see module doc)."""
    from tasks.mamujoco_backend import MaMuJoCoVectorEnv

    check_quality(task, quality)
    ckpts = run["checkpoints"]
    final = ckpts[-1]
    target = MEDIUM_FRACTION * final["return"]
    # the learnt checkpoint (not the initial zero policy) closest to the target return
    medium = min(ckpts[1:-1] or ckpts, key=lambda c: abs(c["return"] - target))
    rng = np.random.default_rng(seed)

    def play(ck, n):
        venv = MaMuJoCoVectorEnv(task, n, seed + 17)
        W = np.repeat(ck["weights"][None], n, 0)
        return _rollouts(task, venv, W, ck["mean"], ck["std"], action_noise, rng, record=True)[2]

    if quality == "expert":
        episodes = play(final, n_episodes)
    elif quality == "medium":
        episodes = play(medium, n_episodes)
    elif quality == "medium-expert":
        episodes = play(medium, n_episodes // 2) + play(final, n_episodes - n_episodes // 2)
    else:  # medium-replay: every rollout of the learning run up to the medium checkpoint
        episodes = [t for r in run["rollouts"][: max(1, medium["iteration"])] for t in r]
    episodes = [{k: np.asarray(v) if isinstance(v, list) else v for k, v in e.items()} for e in episodes]
    prov = {"behaviour": "ars-v2t", "seed": seed, "final_return": final["return"],
            "medium_iteration": medium["iteration"], "medium_return": medium["return"],
            "action_noise": action_noise, "episodes": len(episodes)}
    return from_episodes(episodes, _meta(task, quality, prov))


# -- SMAC from a MAPPO run (paper-grade generator) -----------------------------------------

#: where SMACv1's poor / medium / good checkpoints sit between the run's first and best
#: evaluated return (MADT's datasets, Meng et al. 2023, come from MAPPO policies of poor,
#: medium and good win rate; returns order the checkpoints where win rates are all zero,
#: as on the hard maps early in training)
SMAC_QUALITY_FRACTIONS = {"poor": 0.2, "medium": 0.5, "good": 1.0}


def pick_checkpoint(checkpoints: list, quality: str, fractions: dict = None) -> dict:
    fractions = fractions or SMAC_QUALITY_FRACTIONS
    score = lambda c: c["return_mean"]
    first, best = score(checkpoints[0]), max(score(c) for c in checkpoints)
    target = first + fractions[quality] * (best - first)
    return min(checkpoints, key=lambda c: abs(score(c) - target))


def smac_from_mappo(task: TaskSpec, quality: str, run: dict, n_episodes: int, seed: int = 0,
                    fractions: dict = None) -> OfflineDataset:
    """SMACv1: episodes of the checkpoint of that quality; SMACv2 (medium): trajectories
    drawn uniformly from the whole learning run (paper Sec. 6.1: 1000 trajectories)."""
    import torch

    from behaviour.mappo import MAPPOAgent, MAPPOConfig

    check_quality(task, quality)
    if task.suite == "smacv2":
        pool = run["episodes"]
        if not pool:
            raise ValueError(f"the MAPPO run of {task.id} recorded no episodes")
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(len(pool), size=min(n_episodes, len(pool)), replace=False))
        episodes = [pool[i] for i in idx]
        prov = {"behaviour": "mappo-learning-run", "episodes": len(episodes), "run_env_steps": run["env_steps"],
                "win_rate": float(np.mean([e["win"] for e in episodes]))}
    else:
        from tasks.smax_backend import SMAXVectorEnv

        ck = pick_checkpoint(run["checkpoints"], quality, fractions)
        agent = MAPPOAgent(task, run["config"]["hidden"])
        agent.load_state_dict(ck["state_dict"])
        torch.manual_seed(seed)
        venv = SMAXVectorEnv(task, min(64, n_episodes), seed + 31)
        episodes = play_episodes(task, venv, agent.act, n_episodes)
        wins = [e["win"] for e in episodes]
        prov = {"behaviour": "mappo-checkpoint", "checkpoint_iteration": ck["iteration"],
                "checkpoint_env_steps": ck["env_steps"], "checkpoint_win_rate": ck["win_rate"],
                "checkpoint_return": ck["return_mean"], "episodes": n_episodes, "win_rate": float(np.mean(wins)),
                "quality_fractions": fractions or SMAC_QUALITY_FRACTIONS}
    meta = _meta(task, quality, {**prov, "seed": seed})
    meta["grade"] = "paper"
    return from_episodes(episodes, meta)


def mamujoco_from_mappo(task: TaskSpec, quality: str, run: dict, n_episodes: int, seed: int = 0,
                        medium_fraction: float = MEDIUM_FRACTION) -> OfflineDataset:
    """D4RL-style MaMuJoCo qualities from a MAPPO run (paper-grade generator): expert = the
    best checkpoint, medium = the checkpoint closest to ``medium_fraction`` of its return,
    medium-replay = every training episode up to the medium checkpoint, medium-expert =
    medium and expert episodes together (D4RL; the OMIGA datasets follow it)."""
    import torch

    from tasks.mamujoco_backend import MaMuJoCoVectorEnv
    from behaviour.mappo import MAPPOAgent

    check_quality(task, quality)
    cks = run["checkpoints"]
    expert = max(cks, key=lambda c: c["return_mean"])
    target = medium_fraction * expert["return_mean"]
    medium = min([c for c in cks if c is not expert and c["iteration"] > 0] or cks,
                 key=lambda c: abs(c["return_mean"] - target))
    torch.manual_seed(seed)

    # the behaviour policy acts on the observations it was trained on; the data get the task's
    acted_on = run_obs_layout(task, run)
    from tasks.registry import with_obs_layout
    play_task = with_obs_layout(task, acted_on)

    def play(ck, n):
        agent = MAPPOAgent(play_task, run["config"]["hidden"])
        agent.load_state_dict(ck["state_dict"])
        # the stochastic behaviour policy, as D4RL's
        return play_episodes(play_task, MaMuJoCoVectorEnv(play_task, n, seed + 17), agent.act, n)

    if quality == "expert":
        episodes = play(expert, n_episodes)
    elif quality == "medium":
        episodes = play(medium, n_episodes)
    elif quality == "medium-expert":
        episodes = play(medium, n_episodes // 2) + play(expert, n_episodes - n_episodes // 2)
    else:
        episodes = [e for e in run["episodes"] if e["iteration"] <= medium["iteration"]]
        if not episodes:
            raise ValueError(f"the MAPPO run of {task.id} recorded no episodes before its medium checkpoint")
    episodes = [{k: np.asarray(v) if isinstance(v, list) else v for k, v in e.items()} for e in episodes]
    episodes = in_task_layout(task, episodes, acted_on)
    prov = {"behaviour": "mappo", "seed": seed, "behaviour_obs_layout": acted_on, "expert_iteration": expert["iteration"],
            "expert_return": expert["return_mean"], "medium_iteration": medium["iteration"],
            "medium_return": medium["return_mean"], "medium_fraction": medium_fraction,
            "episodes": len(episodes), "run_env_steps": run["env_steps"]}
    meta = _meta(task, quality, prov)
    meta["grade"] = "paper"
    return from_episodes(episodes, meta)

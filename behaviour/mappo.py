"""MAPPO behaviour learner, in PyTorch: SMAX tasks (discrete) and MaMuJoCo tasks (continuous).

The paper's SMAC datasets were made with MAPPO (Yu et al. 2022): SMACv1 poor / medium /
good datasets from policies of increasing win rate (Meng et al. 2023), SMACv2 from 1000
trajectories collected across a MAPPO learning run (paper Sec. 6.1).  This is that learner:

- parameter-shared actor pi(a_i | o_i, id_i) with available-action masks;
- centralised critic V(s, id_i) on the global state plus the agent id (MAPPO's
  agent-specific global state, reduced to the world state and the id);
- PPO clipped objective (clip 0.2), GAE (gamma 0.99, lambda 0.95), entropy bonus 0.01,
  Adam 5e-4, 5 epochs over each rollout in one minibatch, value loss clipped as MAPPO's
  (Yu et al. 2022, Table 8 / their SMAC defaults);
- continuous actions (MaMuJoCo, as the HAPPO-made OMIGA datasets; MAPPO with shared
  parameters rather than HAPPO's sequential updates): a Gaussian per agent with a learnt,
  state-independent log-std, actions clipped to [-1, 1] by the environment, rewards scaled
  by a running std of the discounted return (as in common PPO implementations);
- rollouts of ``num_envs`` episodes stepped as one batch, episodes restarted where
  they end.  A time-limit cut is treated as terminal in the advantage (a simplification:
  SMAC's limits are rarely reached by learning policies).

``train_mappo`` returns the checkpoints (state dicts with their evaluated win rates and
returns, a learning curve) and, with ``record_episodes=K``, a uniform sample of K of the
episodes finished during training (reservoir sampling over the whole run: SMACv2's
"trajectories collected across the learning run" without holding the run in memory), or
with ``record_episodes=-1`` every episode (MaMuJoCo's medium-replay).  The datasets made from
a run are in ``behaviour.mappo_datasets``; the pipeline's run sizes are ``datasets.mappo`` of
the config (``MAPPOConfig``'s defaults are the SMAX ones).
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from algorithms.networks import AgentMLP, masked_logits
from behaviour.episodes import EpisodeRecorder, episode_arrays
from behaviour.running_stats import RunningMeanVar
from tasks.registry import TaskSpec


@dataclass
class MAPPOConfig:
    num_envs: int = 32          # parallel SMAX episodes per rollout
    rollout_steps: int = 64     # steps per env per iteration
    lr: float = 5e-4            # Adam (MAPPO SMAC default)
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    epochs: int = 5             # PPO epochs per rollout (MAPPO SMAC: 5 for hard maps)
    entropy: float = 0.01
    value_coef: float = 1.0
    grad_clip: float = 10.0     # MAPPO default max grad norm
    hidden: int = 64            # MAPPO's SMAC MLP width
    eval_episodes: int = 32


class MAPPOAgent(nn.Module):
    def __init__(self, task: TaskSpec, hidden: int):
        super().__init__()
        self.discrete = task.discrete
        self.actor = AgentMLP(task.obs_dim, task.action_dim, task.n_agents, hidden, out_gain=0.01)
        self.critic = AgentMLP(task.state_dim, 1, task.n_agents, hidden)
        self.log_std = nn.Parameter(torch.full((task.action_dim,), -0.5), requires_grad=not task.discrete)
        self.n_agents = task.n_agents

    def dist(self, obs, avail):
        if self.discrete:
            return torch.distributions.Categorical(logits=masked_logits(self.actor(obs), avail))
        # independent Gaussian per action dimension, summed into one log-prob per agent
        normal = torch.distributions.Normal(self.actor(obs), self.log_std.exp())
        return torch.distributions.Independent(normal, 1)

    def value(self, state):
        s = state.unsqueeze(-2).expand(*state.shape[:-1], self.n_agents, state.shape[-1])
        return self.critic(s).squeeze(-1)

    @torch.no_grad()
    def act(self, obs, avail, deterministic=False):
        d = self.dist(torch.tensor(obs), None if avail is None else torch.tensor(avail))
        if self.discrete:
            return (d.probs.argmax(-1) if deterministic else d.sample()).numpy()
        return (d.mean if deterministic else d.sample()).clamp(-1, 1).numpy()


def evaluate_agent(task, agent, episodes, seed, venv=None):
    from tasks.simulators import evaluate
    return evaluate(task, lambda o, a: agent.act(o, a), episodes, seed=seed, venv=venv)


RESUME_EVERY = 25  # iterations between two saves of a resume state (50k env steps at the paper's sizes)


def train_mappo(task: TaskSpec, env_steps: int, cfg: MAPPOConfig = None, seed: int = 0, n_checkpoints: int = 10,
                record_episodes: int = 0, log=print, resume_file=None, resume_every: int = RESUME_EVERY,
                keep_resume: bool = False) -> dict:
    """With ``resume_file``, the whole state of the run (networks, optimiser, reward normaliser,
    iteration, curve, checkpoints, recorded and unfinished episodes, the random generators of
    torch, numpy, Python and the reservoir, and both simulators' states) is saved there,
    atomically, every ``resume_every`` iterations; a rerun with the same arguments continues
    from it and returns the same run bit for bit (up to the wall-clock fields ``wall_s``).  A
    file of another configuration is refused and the run starts from iteration 0, saying why
    (``tasks/resume.py``).  The file is removed when the run completes, unless ``keep_resume`` (for
    a caller that removes it once it has written the run's output)."""
    from tasks.simulators import make_vector_env

    cfg = cfg or MAPPOConfig()
    torch.manual_seed(seed)
    np.random.seed(seed)
    venv = make_vector_env(task, cfg.num_envs, seed)
    eval_env = make_vector_env(task, cfg.eval_episodes, seed + 1)
    venv.warm_up()
    eval_env.warm_up()
    agent = MAPPOAgent(task, cfg.hidden)
    opt = torch.optim.Adam(agent.parameters(), lr=cfg.lr)
    E, N, T = cfg.num_envs, task.n_agents, cfg.rollout_steps
    iterations = max(1, env_steps // (E * T))
    ckpt_every = max(1, iterations // max(1, n_checkpoints - 1))
    obs, state, avail = venv.reset()
    live = EpisodeRecorder(obs, state, avail)  # the episode under way in each env
    # MaMuJoCo's reward scale: the running (population) variance of the discounted return
    ret_running, ret_var = np.zeros(E), RunningMeanVar()
    episodes, curve, checkpoints = [], [], []
    rng = np.random.default_rng(seed)
    finished = 0
    t0, steps = time.perf_counter(), 0
    start = 0
    if resume_file is not None and task.backend not in ("smax", "mamujoco"):
        log(f"[MAPPO {task.name}] the {task.backend} backend cannot save its simulator state: not resumable")
        resume_file = None
    if resume_file is not None:
        from tasks.resume import load_resume, save_resume, set_vector_env_state, vector_env_state
        fingerprint = {"kind": "mappo", "task": task.id, "obs_layout": task.obs_layout, "env_steps": env_steps,
                       "seed": seed, "n_checkpoints": n_checkpoints, "record_episodes": record_episodes,
                       **{f"cfg.{k}": v for k, v in cfg.__dict__.items()}}
        saved = load_resume(resume_file, fingerprint, log)  # restores the global generators
        if saved is not None:
            start, steps, finished = saved["iteration"], saved["steps"], saved["finished"]
            agent.load_state_dict(saved["agent"])
            opt.load_state_dict(saved["optimiser"])
            ret_running = saved["ret_running"]
            ret_var.set_state(saved["ret_var"])
            rng.bit_generator.state = saved["rng"]
            episodes, curve, checkpoints = saved["episodes"], saved["curve"], saved["checkpoints"]
            live.open = saved["live"]
            obs, state, avail = saved["obs"], saved["state"], saved["avail"]
            set_vector_env_state(venv, saved["venv"])
            set_vector_env_state(eval_env, saved["eval_env"])
            t0 -= saved["wall_s"]
            log(f"[MAPPO {task.name}] resumed at iteration {start} ({steps} env steps) from {resume_file}")

    def save(it):
        save_resume(resume_file, fingerprint, {
            "iteration": it, "steps": steps, "finished": finished, "agent": agent.state_dict(),
            "optimiser": opt.state_dict(), "ret_running": ret_running, "ret_var": ret_var.state(),
            "rng": rng.bit_generator.state, "episodes": episodes, "live": live.open, "curve": curve,
            "checkpoints": checkpoints, "obs": obs, "state": state, "avail": avail,
            "venv": vector_env_state(venv), "eval_env": vector_env_state(eval_env),
            "wall_s": time.perf_counter() - t0})

    def checkpoint(it):
        res = evaluate_agent(task, agent, cfg.eval_episodes, seed + 1, eval_env)
        checkpoints.append({"iteration": it, "env_steps": steps, "win_rate": res["win_rate"],
                            "return_mean": res["return_mean"], "state_dict": copy.deepcopy(agent.state_dict())})
        curve.append({"iteration": it, "env_steps": steps, "wall_s": time.perf_counter() - t0,
                      "win_rate": res["win_rate"], "return_mean": res["return_mean"]})
        log(f"[MAPPO {task.name}] iteration {it}, {steps} env steps: win rate {res['win_rate']:.3f}, "
            f"return {res['return_mean']:.3f}")

    if start == 0:
        checkpoint(0)
    for it in range(start + 1, iterations + 1):
        buf = {k: [] for k in ("obs", "state", "avail", "act", "logp", "val", "rew", "done")}
        for _ in range(T):
            o, s = torch.tensor(obs), torch.tensor(state)
            m = torch.tensor(avail) if task.discrete else torch.ones(E, N, 1, dtype=torch.bool)
            with torch.no_grad():
                d = agent.dist(o, m)
                a = d.sample()
                logp, v = d.log_prob(a), agent.value(s)
            act_env = a.numpy() if task.discrete else a.clamp(-1, 1).numpy()
            r, term, trunc, won = venv.step(act_env)
            done = term | trunc
            if not task.discrete:  # reward scaling by the running std of the discounted return
                ret_running = ret_running * cfg.gamma + r
                ret_var.update(ret_running)
                ret_running[done] = 0.0
                r_train = r / np.sqrt(ret_var.var() + 1e-8)
            else:
                r_train = r
            for k, x in zip(("obs", "state", "avail", "act", "logp", "val"), (o, s, m, a, logp, v)):
                buf[k].append(x)
            buf["rew"].append(torch.tensor(r_train, dtype=torch.float32))
            buf["done"].append(torch.as_tensor(done, dtype=torch.float32))
            steps += E
            nobs, nstate, navail = venv.observe()
            if record_episodes:
                live.record(range(E), act_env, r, nobs, nstate, navail)
                for i in np.flatnonzero(done):
                    ep = live.finish(i, terminated=bool(term[i]), win=bool(won[i]), iteration=it)
                    finished += 1
                    # reservoir sampling: each finished episode is kept with probability cap / finished
                    cap = record_episodes if record_episodes > 0 else finished  # -1: keep all
                    slot = len(episodes) if len(episodes) < cap else rng.integers(finished)
                    if slot < cap:
                        ep = episode_arrays(ep)
                        if slot == len(episodes):
                            episodes.append(ep)
                        else:
                            episodes[slot] = ep
            if done.any():
                venv.reset_done(done)
                nobs, nstate, navail = venv.observe()
                if record_episodes:
                    for i in np.flatnonzero(done):
                        live.restart(i, nobs, nstate, navail)
            obs, state, avail = nobs, nstate, navail
        with torch.no_grad():
            last_v = agent.value(torch.tensor(state))
        B = {k: torch.stack(v) for k, v in buf.items()}   # [T, E, ...]
        adv = torch.zeros_like(B["val"])
        gae = torch.zeros(E, N)
        for t in reversed(range(T)):
            nv = last_v if t == T - 1 else B["val"][t + 1]
            nonterm = (1.0 - B["done"][t]).unsqueeze(-1)
            delta = B["rew"][t].unsqueeze(-1) + cfg.gamma * nv * nonterm - B["val"][t]
            gae = delta + cfg.gamma * cfg.gae_lambda * nonterm * gae
            adv[t] = gae
        ret = adv + B["val"]
        flat = lambda x: x.reshape(T * E, *x.shape[2:])
        o, s, m, a, lp_old, v_old, adv_f, ret_f = map(flat, (B["obs"], B["state"], B["avail"], B["act"], B["logp"],
                                                               B["val"], adv, ret))
        adv_f = (adv_f - adv_f.mean()) / (adv_f.std() + 1e-8)
        for _ in range(cfg.epochs):
            d = agent.dist(o, m)
            ratio = torch.exp(d.log_prob(a) - lp_old)
            pg = -torch.min(ratio * adv_f, ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * adv_f).mean()
            v = agent.value(s)
            v_clip = v_old + (v - v_old).clamp(-cfg.clip, cfg.clip)
            v_loss = torch.max((v - ret_f) ** 2, (v_clip - ret_f) ** 2).mean()
            loss = pg + cfg.value_coef * v_loss - cfg.entropy * d.entropy().mean()
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), cfg.grad_clip)
            opt.step()
        if it % ckpt_every == 0 or it == iterations:
            checkpoint(it)
        if resume_file is not None and it % max(1, resume_every) == 0 and it < iterations:
            save(it)
    if resume_file is not None and not keep_resume:
        from tasks.resume import discard_resume
        discard_resume(resume_file)
    episodes.sort(key=lambda e: e["iteration"])
    return {"task": task.name, "obs_layout": task.obs_layout, "checkpoints": checkpoints, "curve": curve,
            "episodes": episodes, "episodes_finished": finished,
            "config": cfg.__dict__, "env_steps": steps, "wall_s": time.perf_counter() - t0}

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
  SMAC's limits are rarely reached by learning policies) unless ``bootstrap_truncation``.
- MaMuJoCo options from HARL's tuned MAPPO/HAPPO Hopper 3x1 settings (PKU-MARL/HARL
  ``tuned_configs/mamujoco/Hopper-v2-3x1/{mappo,happo}/config.json``; the fields' comments below
  cite them): HARL's MLP (LayerNorm on the inputs and after every hidden layer, orthogonal
  initialisation), ValueNorm, a Huber value loss, a bounded state-independent std, no entropy
  bonus, a PPO clip of 0.05, a linearly decaying learning rate, bootstrapped time limits.
  ``MAPPOConfig``'s defaults stay today's (the SMAX runs'); ``MAMUJOCO`` is the MaMuJoCo set.

Speed: the rollout's arrays are preallocated ``[T, E, ...]``, the policy and the critic see all
envs in one call per step, the continuous policy samples without ``torch.distributions``, the
reward normaliser folds a step's E returns in at once, and the recorded episodes are cut out of
the rollout's arrays once per iteration (``behaviour.episodes.RolloutEpisodes``);
``benchmarks/bench_behaviour.py`` measures the learner against raw ``mj_step``.

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
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from behaviour.episodes import RolloutEpisodes
from behaviour.networks import AgentMLP, masked_logits, mlp
from behaviour.running_stats import RunningMeanVar
from envs.registry import TaskSpec


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
    n_checkpoints: int = 10     # evaluated checkpoints over the run, the first before any update (MaMuJoCo's
    #                             medium level is the one nearest 0.3 of the expert's return: MAMUJOCO has more)
    # -- options (defaults: the learner as it was; MAMUJOCO below sets HARL's values) ----------
    layers: int = 2             # hidden layers of actor and critic (HARL Hopper 3x1: hidden_sizes [128, 128, 128])
    layer_norm: bool = False    # HARL's MLPBase: LayerNorm of the inputs (use_feature_normalization) and after
    #                             every ReLU, orthogonal init (gain sqrt 2; heads 0.01 / 1) (harl/models/base/mlp.py)
    value_norm: bool = False    # HARL ValueNorm (use_valuenorm: harl/common/valuenorm.py, beta 0.99999)
    huber_delta: float = 0.0    # > 0: Huber value loss of that delta (HARL use_huber_loss, huber_delta 10); 0: squared
    std_max: float = 0.0        # > 0: std = std_max * sigmoid(p), p from 1 (HARL DiagGaussian, std_x_coef 1,
    #                             std_y_coef 0.5); 0: std = exp(log_std), log_std from -0.5
    lr_decay: bool = False      # linear decay of lr to 0 over the run (HARL use_linear_lr_decay, tuned Hopper: true)
    bootstrap_truncation: bool = False  # a time-limit cut bootstraps from V(last state) (HARL use_proper_time_limits)
    reward_scale: bool = True   # continuous tasks: rewards / running std of the discounted return (HARL: none)
    adam_eps: float = 1e-8      # Adam epsilon (HARL opti_eps 1e-5)
    clip_each: bool = False     # clip the actor's and the critic's gradient norms separately (HARL: one
    #                             optimiser and max_grad_norm each); False: one norm over both
    minibatches: int = 1        # minibatches per PPO epoch (HARL Hopper: actor/critic_num_mini_batch 1 of its
    #                             4000-step batches; MAMUJOCO: 4 of 2048, which learnt faster here, issue 19)
    state_value: bool = False   # critic V(s) of the global state alone, one value per env for every agent
    #                             (HARL's "EP" state type, harl/runners/on_policy_base_runner.py line 44);
    #                             False: V(s, id_i) per agent.  On Hopper 3x1 here V(s) learnt about half as
    #                             fast (two seeds each, issue 19), so MAMUJOCO keeps V(s, id_i)


# MaMuJoCo's settings: HARL's tuned MAPPO for Hopper-v2 3x1 (tuned_configs/mamujoco/Hopper-v2-3x1/mappo/
# config.json: clip_param 0.05, entropy_coef 0, ppo_epoch 10, critic_epoch 10, one minibatch, huber_delta 10,
# use_valuenorm, use_feature_normalization, use_linear_lr_decay, use_proper_time_limits, lr 5e-4, opti_eps
# 1e-5, std_y_coef 0.5, gamma 0.99, gae_lambda 0.95, max_grad_norm 10), at widths and batch sizes this
# 2-core CPU affords (HARL: 3 x 128 hidden, 20 envs x 200 steps; here 2 x 64, 16 envs x 128 steps in 4
# minibatches); the configured sizes (datasets.mappo.mamujoco) override num_envs, rollout_steps, eval_episodes,
# epochs and any other field.
# 30 checkpoints: with 10, the 2M-step Hopper run had none between 367 and 1351 (target 0.3 x 3166 = 950), issue 19.
MAMUJOCO = dict(num_envs=16, rollout_steps=128, eval_episodes=8, n_checkpoints=30, epochs=10, clip=0.05,
                entropy=0.0, layer_norm=True, value_norm=True, huber_delta=10.0, std_max=0.5, lr_decay=True,
                bootstrap_truncation=True, reward_scale=False, adam_eps=1e-5, clip_each=True, minibatches=4)


def mamujoco_config(sizes: dict = None) -> MAPPOConfig:
    """The MaMuJoCo run's settings: ``MAMUJOCO`` with ``sizes`` (a profile's ``datasets.mappo.mamujoco``
    without its ``env_steps``) over it."""
    sizes = {k: v for k, v in (sizes or {}).items() if k != "env_steps"}
    return MAPPOConfig(**{**MAMUJOCO, **sizes})


def _harl_mlp(in_dim: int, out_dim: int, hidden: int, layers: int, out_gain: float) -> nn.Sequential:
    """HARL's MLPBase + head: LayerNorm(in) -> [Linear, ReLU, LayerNorm] x layers -> Linear; orthogonal
    weights (gain sqrt 2 for the hidden layers, ``out_gain`` for the head), zero biases."""
    mods, d = [nn.LayerNorm(in_dim)], in_dim
    for _ in range(layers):
        lin = nn.Linear(d, hidden)
        nn.init.orthogonal_(lin.weight, math.sqrt(2))
        nn.init.zeros_(lin.bias)
        mods += [lin, nn.ReLU(), nn.LayerNorm(hidden)]
        d = hidden
    head = nn.Linear(d, out_dim)
    nn.init.orthogonal_(head.weight, out_gain)
    nn.init.zeros_(head.bias)
    return nn.Sequential(*mods, head)


def _network(in_dim: int, out_dim: int, n_agents: int, hidden: int, layers: int, layer_norm: bool,
             out_gain: float = None, ids: bool = True) -> nn.Module:
    """An MLP over agents with their one-hot ids appended (``AgentMLP``) or, ``ids=False``, over the
    input alone; HARL's layout with ``layer_norm``."""
    if not layer_norm:
        return AgentMLP(in_dim, out_dim, n_agents, hidden, layers, out_gain=out_gain) if ids else \
            mlp(in_dim, out_dim, hidden, layers, out_gain)
    gain = 1.0 if out_gain is None else out_gain
    if not ids:
        return _harl_mlp(in_dim, out_dim, hidden, layers, gain)
    net = AgentMLP(in_dim, out_dim, n_agents, hidden, 0)   # its id handling, HARL's network inside
    net.net = _harl_mlp(in_dim + n_agents, out_dim, hidden, layers, gain)
    return net


class MAPPOAgent(nn.Module):
    def __init__(self, task: TaskSpec, hidden: int, layers: int = 2, layer_norm: bool = False,
                 std_max: float = 0.0, state_value: bool = False):
        super().__init__()
        self.discrete = task.discrete
        self.actor = _network(task.obs_dim, task.action_dim, task.n_agents, hidden, layers, layer_norm, 0.01)
        self.critic = _network(task.state_dim, 1, task.n_agents, hidden, layers, layer_norm, ids=not state_value)
        self.state_value = state_value
        self.std_max = std_max
        init = 1.0 if std_max > 0 else -0.5
        self.log_std = nn.Parameter(torch.full((task.action_dim,), init), requires_grad=not task.discrete)
        self.n_agents = task.n_agents

    @classmethod
    def from_config(cls, task: TaskSpec, config: dict) -> "MAPPOAgent":
        """The agent of a run's ``config`` (a ``MAPPOConfig`` as a dict; runs made before the
        options have only ``hidden``)."""
        return cls(task, config["hidden"], config.get("layers", 2), config.get("layer_norm", False),
                   config.get("std_max", 0.0), config.get("state_value", False))

    def std(self):
        if self.std_max > 0:
            return torch.sigmoid(self.log_std) * self.std_max
        return self.log_std.exp()

    def dist(self, obs, avail):
        if self.discrete:
            return torch.distributions.Categorical(logits=masked_logits(self.actor(obs), avail))
        # independent Gaussian per action dimension, summed into one log-prob per agent
        normal = torch.distributions.Normal(self.actor(obs), self.std(), validate_args=False)
        return torch.distributions.Independent(normal, 1, validate_args=False)

    def sample(self, obs):
        """Continuous actions for a rollout step without ``torch.distributions``: actions, log-probs."""
        mean = self.actor(obs)
        std = self.std()
        a = mean + std * torch.randn_like(mean)
        return a, gaussian_log_prob(a, mean, std)

    def value(self, state):
        """[..., S] -> [..., N]: each agent's value (with ``state_value`` the one value, expanded)."""
        if self.state_value:
            return self.critic(state).expand(*state.shape[:-1], self.n_agents)
        s = state.unsqueeze(-2).expand(*state.shape[:-1], self.n_agents, state.shape[-1])
        return self.critic(s).squeeze(-1)

    def epoch_inputs(self, obs, state):
        """For passes over one batch (PPO's epochs): the actor's input with the agent ids appended
        (``self.actor.net`` of it is ``self.actor(obs)``) and the critic's (``critic_values`` of it is
        ``self.value(state)``), built once."""
        actor_in = torch.cat([obs, self.actor.agent_ids.expand(*obs.shape[:-1], self.n_agents)], dim=-1)
        if self.state_value:
            return actor_in, state
        s = state.unsqueeze(-2).expand(*state.shape[:-1], self.n_agents, state.shape[-1])
        return actor_in, torch.cat([s, self.critic.agent_ids.expand(*s.shape[:-1], self.n_agents)], dim=-1)

    def critic_values(self, critic_in):
        if self.state_value:
            return self.value(critic_in)
        return self.critic.net(critic_in).squeeze(-1)

    @torch.no_grad()
    def act(self, obs, avail, deterministic=False):
        obs = _tensor(obs)
        if self.discrete:
            d = self.dist(obs, None if avail is None else _tensor(avail))
            return (d.probs.argmax(-1) if deterministic else d.sample()).numpy()
        if deterministic:
            return self.actor(obs).clamp(-1, 1).numpy()
        return self.sample(obs)[0].clamp(-1, 1).numpy()


_LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))


def _tensor(x) -> torch.Tensor:
    """A tensor sharing a writable numpy array's memory, else a copy (JAX's arrays are read-only)."""
    if isinstance(x, np.ndarray) and x.flags.writeable:
        return torch.from_numpy(x)
    return torch.tensor(np.asarray(x))


def gaussian_log_prob(a, mean, std):
    """log N(a; mean, std) summed over the last axis (``torch.distributions.Normal``'s formula)."""
    return (-((a - mean) ** 2) / (2 * std ** 2) - std.log() - _LOG_SQRT_2PI).sum(-1)


class ValueNorm:
    """HARL's ValueNorm (harl/common/valuenorm.py), in float64: exponential moving averages
    (``beta`` per update) of the returns' mean and mean square, debiased; the variance clamped at
    1e-2.  The critic predicts normalised returns; ``state``/``set_state`` for resume files."""

    def __init__(self, beta: float = 0.99999, eps: float = 1e-5):
        self.beta, self.eps = beta, eps
        self.mean = self.mean_sq = self.debias = 0.0

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().double()
        self.mean = self.mean * self.beta + float(x.mean()) * (1 - self.beta)
        self.mean_sq = self.mean_sq * self.beta + float((x ** 2).mean()) * (1 - self.beta)
        self.debias = self.debias * self.beta + (1 - self.beta)

    def _mean_std(self):
        d = max(self.debias, self.eps)
        mean = self.mean / d
        return mean, math.sqrt(max(self.mean_sq / d - mean ** 2, 1e-2))

    def normalize(self, x):
        mean, std = self._mean_std()
        return (x - mean) / std

    def denormalize(self, x):
        mean, std = self._mean_std()
        return x * std + mean

    def state(self) -> tuple:
        return self.mean, self.mean_sq, self.debias

    def set_state(self, state) -> None:
        self.mean, self.mean_sq, self.debias = (float(v) for v in state)


def evaluate_agent(task, agent, episodes, seed, venv=None):
    from envs.simulators import evaluate
    return evaluate(task, lambda o, a: agent.act(o, a), episodes, seed=seed, venv=venv)


RESUME_EVERY = 25  # iterations between two saves of a resume state (50k env steps at the paper's sizes)


def train_mappo(task: TaskSpec, env_steps: int, cfg: MAPPOConfig = None, seed: int = 0, n_checkpoints: int = None,
                record_episodes: int = 0, log=print, resume_file=None, resume_every: int = RESUME_EVERY,
                keep_resume: bool = False) -> dict:
    """With ``resume_file``, the whole state of the run (networks, optimiser, reward normaliser,
    iteration, curve, checkpoints, recorded and unfinished episodes, the random generators of
    torch, numpy, Python and the reservoir, and both simulators' states) is saved there,
    atomically, every ``resume_every`` iterations; a rerun with the same arguments continues
    from it and returns the same run bit for bit (up to the wall-clock fields ``wall_s``).  A
    file of another configuration is refused and the run starts from iteration 0, saying why
    (``envs/resume.py``).  The file is removed when the run completes, unless ``keep_resume`` (for
    a caller that removes it once it has written the run's output)."""
    from envs.simulators import make_vector_env

    cfg = cfg or MAPPOConfig()
    n_checkpoints = cfg.n_checkpoints if n_checkpoints is None else n_checkpoints
    torch.manual_seed(seed)
    np.random.seed(seed)
    venv = make_vector_env(task, cfg.num_envs, seed)
    eval_env = make_vector_env(task, cfg.eval_episodes, seed + 1)
    venv.warm_up()
    eval_env.warm_up()
    agent = MAPPOAgent(task, cfg.hidden, cfg.layers, cfg.layer_norm, cfg.std_max, cfg.state_value)
    # fused: one kernel for every parameter's Adam step (torch's CPU implementation), a quarter of the
    # update's time with these small networks (benchmarks/bench_behaviour.py)
    opt = torch.optim.Adam(agent.parameters(), lr=cfg.lr, eps=cfg.adam_eps, fused=True)
    E, N, T = cfg.num_envs, task.n_agents, cfg.rollout_steps
    iterations = max(1, env_steps // (E * T))
    ckpt_every = max(1, iterations // max(1, n_checkpoints - 1))
    obs, state, avail = venv.reset()
    live = RolloutEpisodes(obs, state, avail)  # the episode under way in each env
    # MaMuJoCo's reward scale: the running (population) variance of the discounted return
    ret_running, ret_var = np.zeros(E), RunningMeanVar()
    vnorm = ValueNorm() if cfg.value_norm else None
    scale_rewards = not task.discrete and cfg.reward_scale
    episodes, curve, checkpoints = [], [], []
    rng = np.random.default_rng(seed)
    finished = 0
    t0, steps = time.perf_counter(), 0
    start = 0
    if resume_file is not None and task.backend not in ("smax", "mamujoco"):
        log(f"[MAPPO {task.name}] the {task.backend} backend cannot save its simulator state: not resumable")
        resume_file = None
    if resume_file is not None:
        from envs.resume import load_resume, save_resume, set_aside, set_vector_env_state, vector_env_state
        fingerprint = {"kind": "mappo", "task": task.id, "obs_layout": task.obs_layout, "env_steps": env_steps,
                       "seed": seed, "n_checkpoints": n_checkpoints, "record_episodes": record_episodes,
                       **{f"cfg.{k}": v for k, v in cfg.__dict__.items()}}
        saved = load_resume(resume_file, fingerprint, log)  # restores the global generators
        if saved is not None:
            try:
                start, steps, finished = saved["iteration"], saved["steps"], saved["finished"]
                agent.load_state_dict(saved["agent"])
                opt.load_state_dict(saved["optimiser"])
                ret_running = saved["ret_running"]
                ret_var.set_state(saved["ret_var"])
                if vnorm is not None:
                    vnorm.set_state(saved["value_norm"])
                rng.bit_generator.state = saved["rng"]
                episodes, curve, checkpoints = saved["episodes"], saved["curve"], saved["checkpoints"]
                live.open = saved["live"]
                obs, state, avail = saved["obs"], saved["state"], saved["avail"]
                set_vector_env_state(venv, saved["venv"])
                set_vector_env_state(eval_env, saved["eval_env"])
                t0 -= saved["wall_s"]
            except Exception as exc:  # noqa: BLE001 - loads but does not fit (a state_dict error, ...)
                # the networks and simulators may hold part of it: set it aside, start the run afresh
                set_aside(resume_file, f"resume state does not fit the run ({type(exc).__name__}: "
                                       f"{str(exc).splitlines()[0][:300] if str(exc) else ''})", log)
                return train_mappo(task, env_steps, cfg, seed, n_checkpoints, record_episodes, log, resume_file,
                                   resume_every, keep_resume)
            log(f"[MAPPO {task.name}] resumed at iteration {start} ({steps} env steps) from {resume_file}")

    def save(it):
        save_resume(resume_file, fingerprint, {
            "iteration": it, "steps": steps, "finished": finished, "agent": agent.state_dict(),
            "optimiser": opt.state_dict(), "ret_running": ret_running, "ret_var": ret_var.state(),
            "value_norm": None if vnorm is None else vnorm.state(),
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

    # the rollout's arrays, [T, E, ...], allocated at the first step with the simulator's dtypes
    buf = {}

    def store(t, **arrays):
        for k, x in arrays.items():
            if k not in buf:
                buf[k] = np.zeros((T,) + x.shape, x.dtype)
            buf[k][t] = x

    actor_params, critic_params = list(agent.actor.parameters()) + [agent.log_std], list(agent.critic.parameters())
    if start == 0:
        checkpoint(0)
    for it in range(start + 1, iterations + 1):
        if cfg.lr_decay:  # HARL's update_linear_schedule: lr * (1 - episode / episodes), episode from 0
            for g in opt.param_groups:
                g["lr"] = cfg.lr * (1 - (it - 1) / iterations)
        with torch.no_grad():
            std = None if task.discrete else agent.std()   # fixed during the rollout
        for t in range(T):  # the policy only: values and continuous log-probs come batched after the rollout
            with torch.no_grad():
                o = torch.from_numpy(obs)
                if task.discrete:
                    d = agent.dist(o, torch.from_numpy(avail))
                    a = d.sample()
                    extra = {"logp": d.log_prob(a).numpy()}
                    act_env = a.numpy()
                else:
                    mean = agent.actor(o)
                    a = mean + std * torch.randn_like(mean)
                    act_env, extra = a.clamp(-1, 1).numpy(), {}
            r, term, trunc, won = venv.step(act_env)
            done = term | trunc
            nobs, nstate, navail = venv.observe()
            store(t, obs=obs, state=state, act=a.numpy(), act_env=act_env, rew=r, term=term, trunc=trunc,
                  done=done, won=won, next_obs=nobs, next_state=nstate, **extra,
                  **({} if avail is None else {"avail": avail, "next_avail": navail}))
            steps += E
            if done.any():
                venv.reset_done(done)
                nobs, nstate, navail = venv.observe()
            obs, state, avail = nobs, nstate, navail
        done_b = buf["done"]
        if scale_rewards:  # reward scaling by the running std of the discounted return, step by step
            r_train = np.empty((T, E), np.float32)
            for t in range(T):
                ret_running = ret_running * cfg.gamma + buf["rew"][t]
                ret_var.update(ret_running)
                ret_running[done_b[t]] = 0.0
                r_train[t] = buf["rew"][t] / np.sqrt(ret_var.var() + 1e-8)
        else:
            r_train = buf["rew"].astype(np.float32)
        if record_episodes:
            for t, i, build in live.add(buf["obs"], buf["state"], buf.get("avail"), buf["act_env"], buf["rew"],
                                        buf["next_obs"], buf["next_state"], buf.get("next_avail"), done_b):
                finished += 1
                # reservoir sampling: each finished episode is kept with probability cap / finished
                cap = record_episodes if record_episodes > 0 else finished  # -1: keep all
                slot = len(episodes) if len(episodes) < cap else rng.integers(finished)
                if slot < cap:
                    ep = build()
                    ep.update(terminated=bool(buf["term"][t, i]), win=bool(buf["won"][t, i]), iteration=it)
                    if slot == len(episodes):
                        episodes.append(ep)
                    else:
                        episodes[slot] = ep
        B = {k: torch.from_numpy(buf[k]) for k in ("obs", "state", "act")}
        B["avail"] = torch.from_numpy(buf["avail"]) if task.discrete else torch.ones(T, E, N, 1, dtype=torch.bool)
        with torch.no_grad():
            v_all = agent.value(torch.cat([B["state"], torch.from_numpy(state)[None]]))   # [T + 1, E, N]
            B["val"] = v_all[:T]
            B["logp"] = torch.from_numpy(buf["logp"]) if task.discrete else \
                gaussian_log_prob(B["act"], agent.actor(B["obs"]), agent.std())
            next_v = v_all[1:].clone()                                    # V(s_{t+1}) of the same episode ...
            cut = buf["trunc"] & ~buf["term"] if cfg.bootstrap_truncation else np.zeros((T, E), bool)
            if cut.any():  # ... and, where a time limit cut it, V(the state it was cut at)
                next_v[torch.from_numpy(cut)] = agent.value(torch.from_numpy(buf["next_state"][cut]))
        vals = B["val"] if vnorm is None else vnorm.denormalize(B["val"])
        next_vals = next_v if vnorm is None else vnorm.denormalize(next_v)
        rew = torch.from_numpy(r_train).unsqueeze(-1)
        boot = torch.from_numpy(1.0 - (buf["term"] if cfg.bootstrap_truncation else done_b).astype(np.float32))
        carry = torch.from_numpy(1.0 - done_b.astype(np.float32)).unsqueeze(-1)
        delta = rew + cfg.gamma * next_vals * boot.unsqueeze(-1) - vals
        adv = torch.zeros_like(vals)
        gae = torch.zeros(E, N)
        for t in reversed(range(T)):
            gae = delta[t] + cfg.gamma * cfg.gae_lambda * carry[t] * gae
            adv[t] = gae
        ret = adv + vals
        flat = lambda x: x.reshape(T * E, *x.shape[2:])
        o, s, m, a, lp_old, v_old, adv_f, ret_f = map(flat, (B["obs"], B["state"], B["avail"], B["act"], B["logp"],
                                                               B["val"], adv, ret))
        adv_f = (adv_f - adv_f.mean()) / (adv_f.std() + 1e-8)
        actor_in, critic_in = agent.epoch_inputs(o, s)   # the agent ids appended once, not every epoch
        batches = [slice(None)]
        for _ in range(cfg.epochs):
            if cfg.minibatches > 1:  # HARL's feed_forward_generator: a random permutation in equal parts
                perm = torch.randperm(T * E)
                batches = perm.chunk(cfg.minibatches)
            for idx in batches:
                logits_or_mean = agent.actor.net(actor_in[idx])
                if task.discrete:
                    d = torch.distributions.Categorical(logits=masked_logits(logits_or_mean, m[idx]))
                    new_lp, entropy = d.log_prob(a[idx]), d.entropy()
                else:
                    std = agent.std()
                    new_lp = gaussian_log_prob(a[idx], logits_or_mean, std)
                    entropy = (0.5 + _LOG_SQRT_2PI + std.log()).sum(-1).expand_as(new_lp)
                ratio = torch.exp(new_lp - lp_old[idx])
                adv_b = adv_f[idx]
                pg = -torch.min(ratio * adv_b, ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * adv_b).mean()
                v, v_o, ret_b = agent.critic_values(critic_in[idx]), v_old[idx], ret_f[idx]
                if vnorm is not None:
                    vnorm.update(ret_b)  # HARL: once per critic update, on the returns of its batch
                    target = vnorm.normalize(ret_b).float()
                else:
                    target = ret_b
                v_clip = v_o + (v - v_o).clamp(-cfg.clip, cfg.clip)
                if cfg.huber_delta > 0:
                    err = lambda x: F.huber_loss(x, target, reduction="none", delta=cfg.huber_delta)  # noqa: E731
                else:
                    err = lambda x: (x - target) ** 2  # noqa: E731
                v_loss = torch.max(err(v), err(v_clip)).mean()
                loss = pg + cfg.value_coef * v_loss - cfg.entropy * entropy.mean()
                opt.zero_grad()
                loss.backward()
                if cfg.clip_each:
                    nn.utils.clip_grad_norm_(actor_params, cfg.grad_clip)
                    nn.utils.clip_grad_norm_(critic_params, cfg.grad_clip)
                else:
                    nn.utils.clip_grad_norm_(agent.parameters(), cfg.grad_clip)
                opt.step()
        if it % ckpt_every == 0 or it == iterations:
            checkpoint(it)
        if resume_file is not None and it % max(1, resume_every) == 0 and it < iterations:
            save(it)
    if resume_file is not None and not keep_resume:
        from envs.resume import discard_resume
        discard_resume(resume_file)
    episodes.sort(key=lambda e: e["iteration"])
    return {"task": task.name, "obs_layout": task.obs_layout, "checkpoints": checkpoints, "curve": curve,
            "episodes": episodes, "episodes_finished": finished,
            "config": cfg.__dict__, "env_steps": steps, "wall_s": time.perf_counter() - t0}

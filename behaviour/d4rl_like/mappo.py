"""MAPPO behaviour learner for MaMuJoCo (continuous actions), in PyTorch.

The paper's MaMuJoCo datasets are OMIGA's, made with HAPPO; this is MAPPO with shared parameters
rather than HAPPO's sequential updates (Yu et al. 2022):

- parameter-shared Gaussian actor pi(a_i | o_i, id_i) with a learnt, state-independent std,
  actions clipped to [-1, 1] by the environment (``behaviour.d4rl_like.mappo_networks``);
- centralised critic V(s, id_i) on the global state plus the agent id (MAPPO's agent-specific
  global state, reduced to the world state and the id), or V(s) with ``state_value``;
- PPO clipped objective, GAE, value loss clipped as MAPPO's;
- rollouts of ``num_envs`` episodes stepped as one batch, episodes restarted where they end; a
  time-limit cut bootstraps from the value of the state it was cut at (``bootstrap_truncation``).

``MAPPOConfig``'s defaults are the settings of HARL's tuned MAPPO for Hopper-v2 3x1 (PKU-MARL/HARL
``tuned_configs/mamujoco/Hopper-v2-3x1/mappo/config.json``: clip_param 0.05, entropy_coef 0,
ppo_epoch 10, huber_delta 10, use_valuenorm, use_feature_normalization, use_linear_lr_decay,
use_proper_time_limits, lr 5e-4, opti_eps 1e-5, std_y_coef 0.5, gamma 0.99, gae_lambda 0.95,
max_grad_norm 10), at widths and batch sizes this 2-core CPU affords (HARL: 3 x 128 hidden, 20 envs
x 200 steps; here 2 x 64, 16 envs x 128 steps in 4 minibatches).  A profile's
``datasets.d4rl_like.mappo`` sets any field over them (``mappo_config``).

One iteration is named phases over one rollout record (PureJaxRL's ``ppo.py`` shape):
``collect_rollout`` (the policy only, the ``Rollout`` arrays ``[T, E, ...]`` preallocated),
``scaled_rewards``, ``record_finished`` (the recorded episodes cut out of the rollout once,
``behaviour.episodes.RolloutEpisodes``), ``rollout_batch`` (values, log-probs and ``compute_gae``,
batched after the rollout), ``ppo_epochs``; ``evaluate_checkpoint`` between iterations.  The
whole run's mutable state is one ``MAPPOState``, which the resume file saves and restores.
``benchmarks/bench_behaviour.py`` measures the learner against raw ``mj_step``.

``train_mappo`` returns the checkpoints (state dicts with their evaluated returns, a learning
curve) and, with ``record_episodes=K``, a uniform sample of K of the episodes finished during
training (reservoir sampling over the whole run), or with ``record_episodes=-1`` every episode
(MaMuJoCo's medium-replay).  The datasets made from a run are in ``behaviour.d4rl_like.datasets``.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from behaviour.d4rl_like.mappo_networks import MAPPOAgent, gaussian_entropy, gaussian_log_prob
from behaviour.d4rl_like.running_stats import RunningMeanVar, ValueNorm
from behaviour.episodes import RolloutEpisodes
from envs.registry import TaskSpec


@dataclass
class MAPPOConfig:
    num_envs: int = 16          # parallel episodes per rollout (HARL: 20)
    rollout_steps: int = 128    # steps per env per iteration (HARL: 200)
    lr: float = 5e-4            # Adam, actor and critic (HARL lr, critic_lr)
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.05          # PPO ratio and value clip (HARL clip_param)
    epochs: int = 10            # PPO epochs per rollout (HARL ppo_epoch, critic_epoch)
    entropy: float = 0.0        # entropy bonus (HARL entropy_coef)
    value_coef: float = 1.0
    grad_clip: float = 10.0     # max grad norm (HARL max_grad_norm)
    hidden: int = 64            # width of actor and critic (HARL: 128)
    eval_episodes: int = 8
    n_checkpoints: int = 30     # evaluated checkpoints over the run, the first before any update; MaMuJoCo's
    #                             medium level is the one nearest 0.3 of the expert's return: with 10, the 2M-step
    #                             Hopper run had none between 367 and 1351 (target 0.3 x 3166 = 950)
    layers: int = 2             # hidden layers of actor and critic (HARL Hopper 3x1: hidden_sizes [128, 128, 128])
    layer_norm: bool = True     # HARL's MLPBase: LayerNorm of the inputs (use_feature_normalization) and after
    #                             every ReLU, orthogonal init (gain sqrt 2; heads 0.01 / 1) (harl/models/base/mlp.py)
    value_norm: bool = True     # HARL ValueNorm (use_valuenorm: harl/common/valuenorm.py, beta 0.99999)
    huber_delta: float = 10.0   # > 0: Huber value loss of that delta (HARL use_huber_loss, huber_delta 10); 0: squared
    std_max: float = 0.5        # > 0: std = std_max * sigmoid(p), p from 1 (HARL DiagGaussian, std_x_coef 1,
    #                             std_y_coef 0.5); 0: std = exp(log_std), log_std from -0.5
    lr_decay: bool = True       # linear decay of lr to 0 over the run (HARL use_linear_lr_decay, tuned Hopper: true)
    bootstrap_truncation: bool = True  # a time-limit cut bootstraps from V(last state) (HARL use_proper_time_limits)
    reward_scale: bool = False  # rewards / running std of the discounted return (common PPO code; HARL: none)
    adam_eps: float = 1e-5      # Adam epsilon (HARL opti_eps)
    clip_each: bool = True      # clip the actor's and the critic's gradient norms separately (HARL: one
    #                             optimiser and max_grad_norm each); False: one norm over both
    minibatches: int = 4        # minibatches per PPO epoch (HARL Hopper: 1 of its 4000-step batches; 4 of 2048
    #                             learnt faster here)
    state_value: bool = False   # critic V(s) of the global state alone, one value per env for every agent
    #                             (HARL's "EP" state type, harl/runners/on_policy_base_runner.py line 44);
    #                             False: V(s, id_i) per agent.  On Hopper 3x1 here V(s) learnt about half as
    #                             fast (two seeds each)


def mappo_config(settings: dict = None) -> MAPPOConfig:
    """The run's settings from a profile's ``datasets.d4rl_like.mappo`` (its ``env_steps`` is the
    run's length, not a learner setting)."""
    return MAPPOConfig(**{k: v for k, v in (settings or {}).items() if k != "env_steps"})


RESUME_EVERY = 25  # iterations between two saves of a resume state (50k env steps at the paper's sizes)


@dataclass
class Rollout:
    """One iteration's steps, arrays ``[T, E, ...]``: what step t acted on (``obs``, ``state``), its
    actions as sampled (``act``) and as the simulator took them (``act_env``, clipped), what it
    returned (``rew``, ``term``, ``trunc``, ``done``, ``won``) and what followed it before any reset
    (``next_obs``, ``next_state``).  Allocated at the first step with the simulator's dtypes, then
    refilled every iteration."""
    obs: np.ndarray
    state: np.ndarray
    act: np.ndarray
    act_env: np.ndarray
    rew: np.ndarray
    term: np.ndarray
    trunc: np.ndarray
    done: np.ndarray
    won: np.ndarray
    next_obs: np.ndarray
    next_state: np.ndarray

    @classmethod
    def allocate(cls, T: int, **step) -> Rollout:
        return cls(**{k: np.zeros((T,) + x.shape, x.dtype) for k, x in step.items()})

    def store(self, t: int, **step) -> None:
        for k, x in step.items():
            getattr(self, k)[t] = x


class Batch(NamedTuple):
    """A rollout flattened to ``[T * E, ...]`` for the PPO epochs: the old log-probs and (normalised)
    values, the normalised advantages and the returns."""
    obs: torch.Tensor
    state: torch.Tensor
    act: torch.Tensor
    logp: torch.Tensor
    value: torch.Tensor
    adv: torch.Tensor
    ret: torch.Tensor


@dataclass
class MAPPOState:
    """Everything a run changes as it goes (what a resume file keeps, with the simulators' states)."""
    task: TaskSpec
    cfg: MAPPOConfig
    seed: int
    venv: object
    eval_env: object
    agent: MAPPOAgent
    opt: torch.optim.Optimizer
    vnorm: ValueNorm            # None without ``value_norm``
    ret_running: np.ndarray     # the discounted return of each env's episode (``reward_scale``)
    ret_var: RunningMeanVar
    rng: np.random.Generator    # the reservoir's
    live: RolloutEpisodes       # the episode under way in each env
    obs: np.ndarray
    state: np.ndarray
    avail: object
    episodes: list
    curve: list
    checkpoints: list
    finished: int = 0
    steps: int = 0
    t0: float = 0.0


def new_state(task: TaskSpec, cfg: MAPPOConfig, seed: int) -> MAPPOState:
    """A run at iteration 0: the global generators seeded, simulators built and reset, the agent
    initialised."""
    from envs.simulators import make_vector_env

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
    obs, state, avail = venv.reset()
    live = RolloutEpisodes(obs, state, avail)
    return MAPPOState(task, cfg, seed, venv, eval_env, agent, opt, ValueNorm() if cfg.value_norm else None,
                      np.zeros(cfg.num_envs), RunningMeanVar(), np.random.default_rng(seed), live, obs, state, avail,
                      [], [], [], t0=time.perf_counter())


# -- one iteration's phases ----------------------------------------------------------------------

def collect_rollout(run: MAPPOState, rollout: Rollout = None) -> Rollout:
    """``rollout_steps`` steps of every env by the current policy (into ``rollout``, or a new record),
    episodes reset where they end.  Values and log-probs come batched afterwards."""
    agent, venv, T = run.agent, run.venv, run.cfg.rollout_steps
    with torch.no_grad():
        std = agent.std()   # fixed during the rollout
    for t in range(T):
        with torch.no_grad():
            mean = agent.actor(torch.from_numpy(run.obs))
            a = mean + std * torch.randn_like(mean)
            act_env = a.clamp(-1, 1).numpy()
        r, term, trunc, won = venv.step(act_env)
        done = term | trunc
        nobs, nstate, navail = venv.observe()
        step = dict(obs=run.obs, state=run.state, act=a.numpy(), act_env=act_env, rew=r, term=term, trunc=trunc,
                    done=done, won=won, next_obs=nobs, next_state=nstate)
        if rollout is None:
            rollout = Rollout.allocate(T, **step)
        rollout.store(t, **step)
        run.steps += run.cfg.num_envs
        if done.any():
            venv.reset_done(done)
            nobs, nstate, navail = venv.observe()
        run.obs, run.state, run.avail = nobs, nstate, navail
    return rollout


def scaled_rewards(run: MAPPOState, rollout: Rollout) -> np.ndarray:
    """The rewards the learner trains on, [T, E]: with ``reward_scale`` divided by the running std of
    the discounted return, step by step; else as received."""
    cfg = run.cfg
    if not cfg.reward_scale:
        return rollout.rew.astype(np.float32)
    T, E = rollout.done.shape
    r_train = np.empty((T, E), np.float32)
    for t in range(T):
        run.ret_running = run.ret_running * cfg.gamma + rollout.rew[t]
        run.ret_var.update(run.ret_running)
        run.ret_running[rollout.done[t]] = 0.0
        r_train[t] = rollout.rew[t] / np.sqrt(run.ret_var.var() + 1e-8)
    return r_train


def record_finished(run: MAPPOState, rollout: Rollout, it: int, record_episodes: int) -> None:
    """The episodes that ended in the rollout into the run's sample: reservoir sampling, each
    finished episode kept with probability ``record_episodes`` / finished (-1: every episode)."""
    for t, i, build in run.live.add(rollout.obs, rollout.state, None, rollout.act_env, rollout.rew,
                                    rollout.next_obs, rollout.next_state, None, rollout.done):
        run.finished += 1
        cap = record_episodes if record_episodes > 0 else run.finished
        slot = len(run.episodes) if len(run.episodes) < cap else run.rng.integers(run.finished)
        if slot < cap:
            ep = build()
            ep.update(terminated=bool(rollout.term[t, i]), win=bool(rollout.won[t, i]), iteration=it)
            if slot == len(run.episodes):
                run.episodes.append(ep)
            else:
                run.episodes[slot] = ep


def compute_gae(delta: torch.Tensor, carry: torch.Tensor, gamma: float, gae_lambda: float) -> torch.Tensor:
    """GAE (Schulman et al. 2016) backwards in time from the TD errors ``delta`` [T, E, N];
    ``carry`` [T, E, 1] is 0 where an episode ended at that step."""
    adv = torch.zeros_like(delta)
    gae = torch.zeros(delta.shape[1:])
    for t in reversed(range(delta.shape[0])):
        gae = delta[t] + gamma * gae_lambda * carry[t] * gae
        adv[t] = gae
    return adv


def rollout_batch(run: MAPPOState, rollout: Rollout, r_train: np.ndarray) -> Batch:
    """The PPO batch of a rollout: values of every step and of the state after it (where a time limit
    cut an episode, of the state it was cut at), the actions' log-probs, advantages and returns."""
    agent, cfg, vnorm = run.agent, run.cfg, run.vnorm
    T, E = rollout.done.shape
    obs, state, act = (torch.from_numpy(x) for x in (rollout.obs, rollout.state, rollout.act))
    with torch.no_grad():
        v_all = agent.value(torch.cat([state, torch.from_numpy(run.state)[None]]))   # [T + 1, E, N]
        val = v_all[:T]
        logp = gaussian_log_prob(act, agent.actor(obs), agent.std())
        next_v = v_all[1:].clone()                                    # V(s_{t+1}) of the same episode ...
        cut = rollout.trunc & ~rollout.term if cfg.bootstrap_truncation else np.zeros((T, E), bool)
        if cut.any():  # ... and, where a time limit cut it, V(the state it was cut at)
            next_v[torch.from_numpy(cut)] = agent.value(torch.from_numpy(rollout.next_state[cut]))
    vals = val if vnorm is None else vnorm.denormalize(val)
    next_vals = next_v if vnorm is None else vnorm.denormalize(next_v)
    rew = torch.from_numpy(r_train).unsqueeze(-1)
    boot = torch.from_numpy(1.0 - (rollout.term if cfg.bootstrap_truncation else rollout.done).astype(np.float32))
    carry = torch.from_numpy(1.0 - rollout.done.astype(np.float32)).unsqueeze(-1)
    delta = rew + cfg.gamma * next_vals * boot.unsqueeze(-1) - vals
    adv = compute_gae(delta, carry, cfg.gamma, cfg.gae_lambda)
    ret = adv + vals
    flat = lambda x: x.reshape(T * E, *x.shape[2:])
    batch = Batch(*map(flat, (obs, state, act, logp, val, adv, ret)))
    return batch._replace(adv=(batch.adv - batch.adv.mean()) / (batch.adv.std() + 1e-8))


def _ppo_loss(run: MAPPOState, batch: Batch, actor_in, critic_in, idx):
    """PPO's clipped surrogate plus the clipped value loss minus the entropy bonus, on rows ``idx``."""
    agent, cfg, vnorm = run.agent, run.cfg, run.vnorm
    mean = agent.actor.net(actor_in[idx])
    std = agent.std()
    new_lp = gaussian_log_prob(batch.act[idx], mean, std)
    entropy = gaussian_entropy(std).expand_as(new_lp)
    ratio = torch.exp(new_lp - batch.logp[idx])
    adv_b = batch.adv[idx]
    pg = -torch.min(ratio * adv_b, ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * adv_b).mean()
    v, v_o, ret_b = agent.critic_values(critic_in[idx]), batch.value[idx], batch.ret[idx]
    if vnorm is not None:
        vnorm.update(ret_b)  # HARL: once per critic update, on the returns of its batch
        target = vnorm.normalize(ret_b).float()
    else:
        target = ret_b
    v_clip = v_o + (v - v_o).clamp(-cfg.clip, cfg.clip)
    if cfg.huber_delta > 0:
        err = lambda x: F.huber_loss(x, target, reduction="none", delta=cfg.huber_delta)
    else:
        err = lambda x: (x - target) ** 2
    v_loss = torch.max(err(v), err(v_clip)).mean()
    return pg + cfg.value_coef * v_loss - cfg.entropy * entropy.mean()


def ppo_epochs(run: MAPPOState, batch: Batch) -> None:
    """``epochs`` passes over the batch, each in ``minibatches`` random parts (HARL's
    feed_forward_generator: a random permutation in equal parts) or whole."""
    agent, cfg, opt = run.agent, run.cfg, run.opt
    actor_params, critic_params = list(agent.actor.parameters()) + [agent.log_std], list(agent.critic.parameters())
    actor_in, critic_in = agent.epoch_inputs(batch.obs, batch.state)   # the agent ids appended once
    parts = [slice(None)]
    for _ in range(cfg.epochs):
        if cfg.minibatches > 1:
            parts = torch.randperm(batch.adv.shape[0]).chunk(cfg.minibatches)
        for idx in parts:
            loss = _ppo_loss(run, batch, actor_in, critic_in, idx)
            opt.zero_grad()
            loss.backward()
            if cfg.clip_each:
                nn.utils.clip_grad_norm_(actor_params, cfg.grad_clip)
                nn.utils.clip_grad_norm_(critic_params, cfg.grad_clip)
            else:
                nn.utils.clip_grad_norm_(agent.parameters(), cfg.grad_clip)
            opt.step()


def evaluate_checkpoint(run: MAPPOState, it: int, log) -> None:
    """Evaluate the current policy (stochastic) and keep it as a checkpoint and a curve point."""
    from envs.simulators import evaluate

    agent = run.agent
    res = evaluate(run.task, lambda o, a: agent.act(o, a), run.cfg.eval_episodes, seed=run.seed + 1,
                   venv=run.eval_env)
    run.checkpoints.append({"iteration": it, "env_steps": run.steps, "win_rate": res["win_rate"],
                            "return_mean": res["return_mean"], "state_dict": copy.deepcopy(agent.state_dict())})
    run.curve.append({"iteration": it, "env_steps": run.steps, "wall_s": time.perf_counter() - run.t0,
                      "win_rate": res["win_rate"], "return_mean": res["return_mean"]})
    log(f"[MAPPO {run.task.name}] iteration {it}, {run.steps} env steps: win rate {res['win_rate']:.3f}, "
        f"return {res['return_mean']:.3f}")


def _iteration(run: MAPPOState, rollout: Rollout, it: int, iterations: int, record_episodes: int) -> Rollout:
    """One PPO iteration: rollout, rewards, recorded episodes, batch, epochs."""
    cfg = run.cfg
    if cfg.lr_decay:  # HARL's update_linear_schedule: lr * (1 - episode / episodes), episode from 0
        for g in run.opt.param_groups:
            g["lr"] = cfg.lr * (1 - (it - 1) / iterations)
    rollout = collect_rollout(run, rollout)
    r_train = scaled_rewards(run, rollout)
    if record_episodes:
        record_finished(run, rollout, it, record_episodes)
    ppo_epochs(run, rollout_batch(run, rollout, r_train))
    return rollout


# -- resume --------------------------------------------------------------------------------------

def _save(run: MAPPOState, it: int, resume_file, fingerprint: dict) -> None:
    from envs.resume import save_resume, vector_env_state
    save_resume(resume_file, fingerprint, {
        "iteration": it, "steps": run.steps, "finished": run.finished, "agent": run.agent.state_dict(),
        "optimiser": run.opt.state_dict(), "ret_running": run.ret_running, "ret_var": run.ret_var.state(),
        "value_norm": None if run.vnorm is None else run.vnorm.state(),
        "rng": run.rng.bit_generator.state, "episodes": run.episodes, "live": run.live.open, "curve": run.curve,
        "checkpoints": run.checkpoints, "obs": run.obs, "state": run.state, "avail": run.avail,
        "venv": vector_env_state(run.venv), "eval_env": vector_env_state(run.eval_env),
        "wall_s": time.perf_counter() - run.t0})


def _restore(run: MAPPOState, saved: dict) -> int:
    """Put a saved state into ``run`` (raises where it does not fit); the iteration it was saved at."""
    from envs.resume import set_vector_env_state
    run.steps, run.finished = saved["steps"], saved["finished"]
    run.agent.load_state_dict(saved["agent"])
    run.opt.load_state_dict(saved["optimiser"])
    run.ret_running = saved["ret_running"]
    run.ret_var.set_state(saved["ret_var"])
    if run.vnorm is not None:
        run.vnorm.set_state(saved["value_norm"])
    run.rng.bit_generator.state = saved["rng"]
    run.episodes, run.curve, run.checkpoints = saved["episodes"], saved["curve"], saved["checkpoints"]
    run.live.open = saved["live"]
    run.obs, run.state, run.avail = saved["obs"], saved["state"], saved["avail"]
    set_vector_env_state(run.venv, saved["venv"])
    set_vector_env_state(run.eval_env, saved["eval_env"])
    run.t0 -= saved["wall_s"]
    return saved["iteration"]


def _resume(run: MAPPOState, resume_file, fingerprint: dict, log) -> tuple:
    """(run, iteration to continue after): the saved state put into ``run``, or, where there is none
    or it does not fit, a fresh run from iteration 0 (a misfit set aside, saying why)."""
    from envs.resume import load_resume, set_aside
    saved = load_resume(resume_file, fingerprint, log)  # restores the global generators
    if saved is None:
        return run, 0
    try:
        start = _restore(run, saved)
    except Exception as exc:  # noqa: BLE001 - loads but does not fit (a state_dict error, ...)
        # the networks and simulators may hold part of it: set it aside, start the run afresh
        set_aside(resume_file, f"resume state does not fit the run ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0][:300] if str(exc) else ''})", log)
        return new_state(run.task, run.cfg, run.seed), 0
    log(f"[MAPPO {run.task.name}] resumed at iteration {start} ({run.steps} env steps) from {resume_file}")
    return run, start


# -- the run -------------------------------------------------------------------------------------

def train_mappo(task: TaskSpec, env_steps: int, cfg: MAPPOConfig = None, seed: int = 0, n_checkpoints: int = None,
                record_episodes: int = 0, log=print, resume_file=None, resume_every: int = RESUME_EVERY,
                keep_resume: bool = False) -> dict:
    """Train MAPPO on a continuous-action task for ``env_steps`` environment steps.

    With ``resume_file``, the whole state of the run (``MAPPOState``: networks, optimiser, reward
    normaliser, iteration, curve, checkpoints, recorded and unfinished episodes, the random
    generators of torch, numpy, Python and the reservoir, and both simulators' states) is saved
    there, atomically, every ``resume_every`` iterations; a rerun with the same arguments continues
    from it and returns the same run bit for bit (up to the wall-clock fields ``wall_s``).  A file
    of another configuration is refused and the run starts from iteration 0, saying why
    (``envs/resume.py``).  The file is removed when the run completes, unless ``keep_resume`` (for
    a caller that removes it once it has written the run's output)."""
    if task.discrete:
        raise ValueError(f"{task.id}: this MAPPO learner is MaMuJoCo's (continuous actions); the SMAC-like "
                         "suites' behaviour runs are behaviour.smac_like.mappo.train_smax_mappo")
    cfg = cfg or MAPPOConfig()
    n_checkpoints = cfg.n_checkpoints if n_checkpoints is None else n_checkpoints
    run = new_state(task, cfg, seed)
    iterations = max(1, env_steps // (cfg.num_envs * cfg.rollout_steps))
    ckpt_every = max(1, iterations // max(1, n_checkpoints - 1))
    from envs.resume import resumable
    if resume_file is not None and not (resumable(run.venv) and resumable(run.eval_env)):
        log(f"[MAPPO {task.name}] the {task.backend} backend cannot save its simulator state: not resumable")
        resume_file = None
    fingerprint = {"kind": "mappo", "task": task.id, "obs_layout": task.obs_layout, "env_steps": env_steps,
                   "seed": seed, "n_checkpoints": n_checkpoints, "record_episodes": record_episodes,
                   **{f"cfg.{k}": v for k, v in cfg.__dict__.items()}}
    start = 0
    if resume_file is not None:
        run, start = _resume(run, resume_file, fingerprint, log)
    if start == 0:
        evaluate_checkpoint(run, 0, log)
    rollout = None
    for it in range(start + 1, iterations + 1):
        rollout = _iteration(run, rollout, it, iterations, record_episodes)
        if it % ckpt_every == 0 or it == iterations:
            evaluate_checkpoint(run, it, log)
        if resume_file is not None and it % max(1, resume_every) == 0 and it < iterations:
            _save(run, it, resume_file, fingerprint)
    if resume_file is not None and not keep_resume:
        from envs.resume import discard_resume
        discard_resume(resume_file)
    run.episodes.sort(key=lambda e: e["iteration"])
    return {"task": task.name, "obs_layout": task.obs_layout, "checkpoints": run.checkpoints, "curve": run.curve,
            "episodes": run.episodes, "episodes_finished": run.finished,
            "config": cfg.__dict__, "env_steps": run.steps, "wall_s": time.perf_counter() - run.t0}

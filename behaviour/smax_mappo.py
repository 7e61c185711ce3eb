"""MAPPO behaviour learner for SMAX, compiled end to end in JAX (recurrent actor, state or recurrent critic).

The paper's SMAC datasets were made with MAPPO (Yu et al. 2022; SMACv1 via MADT, SMACv2 by the
authors, paper Sec. 6.1).  On SMAX the field's own MAPPO is JaxMARL's
(``baselines/MAPPO/mappo_rnn_smax.py``, after PureJaxRL): envs vmapped, each rollout a
``lax.scan`` of policy + simulator steps, the PPO epochs and minibatches ``lax.scan`` too, the
whole update one compiled program.  This learner follows that pattern and its settings:

- actor pi(a_i | tau_i): Dense-ReLU -> GRU -> Dense-ReLU -> logits (orthogonal init, gain 0.01
  on the output), unavailable actions masked, the agent's one-hot id appended to its
  observation; parameters shared by the agents;
- critic (``critic``): MAPPO's centralised V(s, id_i), feed-forward on SMAX's world state and
  the agent's one-hot id (JaxMARL's ``SMAXWorldStateWrapper`` with ``OBS_WITH_AGENT_ID``), the
  state layer-normalised first with ``state_norm`` (MAPPO's feature normalisation: SMAX's world
  state carries raw map coordinates); or IPPO's recurrent V(tau_i) on the agent's own
  observations (``critic="local"``, JaxMARL's ``ippo_rnn_smax_split_networks.py``);
- hidden states reset where an episode starts; episodes restart where they end (auto-reset), a
  time-limit cut treated as terminal in GAE as JaxMARL's baseline does;
- PPO as JaxMARL's SMAX baselines: clip 0.2, GAE(0.99, 0.95), 4 epochs x 4 minibatches (actor:
  sequences of ``chunk_length`` steps from their stored hidden states; critic: the update's
  states), value loss clipped, global grad-norm clip 0.25, Adam (eps 1e-5) with the learning
  rate 2e-3 annealed linearly to 0, 16 envs x 128 steps per update, entropy 0.01
  (``SMAXMAPPOConfig`` cites each setting).

What was measured on 5m_vs_6m (issue 19; 2M env steps, training win rate at the end): the defaults
8.3 / 10.0 / 8.8 % (seeds 0-2), 16 % after 10M; ``state_norm`` 11.0 / 9.4 / 4.6 %; ``critic="local"``
5.5 %; JaxMARL's IPPO recipe (lr 2.5e-4 not annealed, 2 minibatches of whole 128-step sequences,
128-wide GRUs, grad norm 0.5) with the state critic 5.9 %, with the local critic 1.2 % at 1.3M;
LayerNorm on the actor's observations 5.1 %.
JaxMARL's own sweep (``sweep_results/``, that recipe, March 2024) wins 45 % at 2M: on JaxMARL's SMAX
of that commit (89757a6) these defaults win 87 %.  The gap is the simulator version (jaxmarl 0.2.0
here): in the old SMAX, normalising the observed last action or clipping the observed weapon
cooldowns, as 0.2.0 does, each alone brings the defaults down to 6-8 %.

Only the run's bookkeeping is on the host, between *chunks* of updates (``n_points`` of them):
evaluation of the current policy, its checkpoint (actor parameters), the trajectories recorded
for SMACv2's "1000 trajectories across the learning run", the learning curve and the resume
state.  Nothing is exchanged with the host per step.

SMACv2's replay sample: at every chunk boundary ``record_per_point`` whole episodes are played
from fresh resets by the current (stochastic) training policy, so the recorded pool samples the
policy uniformly across the run; the dataset draws its trajectories from that pool
(``behaviour.smax_datasets``).  These episodes are not training steps and are not counted in
``env_steps``.

A run is saved with :func:`save_run` as one ``.npz`` of arrays and a JSON header, read back
with ``allow_pickle=False`` (:func:`load_run`): no file can execute code when a dataset rule
reads it.
"""
from __future__ import annotations

import json
import math
import os
import re
import time
import zipfile
import zlib
from dataclasses import asdict

import numpy as np

from behaviour.smax_mappo_config import SMAXMAPPOConfig
from envs.smax_backend import jax, jnp, smax_functions  # JAX set up (platform, cache) by the backend
from envs.spec import TaskSpec

# -- networks ------------------------------------------------------------------------------------

def _networks(action_dim: int, hidden: int, state_dim: int, n_agents: int, critic: str = "state",
              state_norm: bool = False):
    import flax.linen as nn
    from flax.linen.initializers import constant, lecun_normal, orthogonal

    H = hidden

    def gates_orthogonal(key, shape, dtype=jnp.float32):
        # the recurrent kernel of each of the three gates orthogonal on its own, as flax's GRUCell has it
        return jnp.concatenate([orthogonal()(k, (shape[0], H), dtype) for k in jax.random.split(key, 3)], axis=1)

    class Recurrent(nn.Module):
        """Dense-ReLU -> GRU over a sequence of T steps, the hidden state zeroed where ``reset`` (an
        episode starts at this input).  The GRU is flax's ``GRUCell`` (Cho et al. 2014):
            r = sig(W_ir x + b_ir + W_hr h),  z = sig(W_iz x + b_iz + W_hz h),
            n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h,
        written out with the input side on all T steps as one matmul and only the h-side products
        in the time loop (measured: as fast as flax's cell in a scan here, within 2 %), so that the
        actor and the local critic share it.  Returns (last hidden, outputs [T, B, H], the hidden
        state entering each step [T, B, H] (before its reset))."""

        @nn.compact
        def __call__(self, h, x, reset):   # h [B, H]; x [T, B, I]; reset [T, B]
            x = nn.relu(nn.Dense(H, kernel_init=orthogonal(np.sqrt(2)), bias_init=constant(0.0))(x))
            gx = nn.Dense(3 * H, kernel_init=lecun_normal(), bias_init=constant(0.0), name="gru_input")(x)
            w_h = self.param("gru_hidden_kernel", gates_orthogonal, (H, 3 * H))
            b_hn = self.param("gru_hidden_bias", constant(0.0), (H,))

            def step(h_in, inputs):
                g, start = inputs
                h = jnp.where(start[:, None], 0.0, h_in)
                gh = h @ w_h
                r = jax.nn.sigmoid(g[:, :H] + gh[:, :H])
                z = jax.nn.sigmoid(g[:, H:2 * H] + gh[:, H:2 * H])
                n = jnp.tanh(g[:, 2 * H:] + r * (gh[:, 2 * H:] + b_hn))
                h = (1.0 - z) * n + z * h
                return h, (h, h_in)

            h, (ys, h_ins) = jax.lax.scan(step, h, (gx, reset))
            return h, ys, h_ins

    class Actor(nn.Module):
        """pi(a_i | tau_i): ``Recurrent`` -> Dense-ReLU -> logits (orthogonal init, gain 0.01 on the
        output), unavailable actions masked; parameters shared by the agents."""

        @nn.compact
        def __call__(self, h, obs, reset, avail):   # obs [T, B, O]; avail [T, B, A]
            h, y, _ = Recurrent()(h, obs, reset)
            y = nn.relu(nn.Dense(H, kernel_init=orthogonal(2.0), bias_init=constant(0.0))(y))
            logits = nn.Dense(action_dim, kernel_init=orthogonal(0.01), bias_init=constant(0.0))(y)
            return h, jnp.where(avail, logits, -1e10)

    class StateCritic(nn.Module):
        """MAPPO's centralised V(s, i) of every agent i from the world state s (JaxMARL's
        ``SMAXWorldStateWrapper`` with ``OBS_WITH_AGENT_ID``: the state and the agent's one-hot id),
        feed-forward: the state is the whole battle, so the critic needs no memory.  Its first layer
        on [s, onehot(i)] is W_s s + W_id[i] + b, so the state's part is computed once for all N
        agents: the same function and initialisation as a Dense layer on the concatenation.
        With ``state_norm`` the state is layer-normalised first (MAPPO's feature normalisation):
        SMAX's world state carries raw map coordinates (up to ~26 here), its observations do not."""

        @nn.compact
        def __call__(self, state):   # [..., S] -> [..., N]
            if state_norm:
                state = nn.LayerNorm()(state)
            kernel = self.param("input_kernel", orthogonal(np.sqrt(2)), (state_dim + n_agents, H))
            bias = self.param("input_bias", constant(0.0), (H,))
            x = nn.relu((state @ kernel[:state_dim] + bias)[..., None, :] + kernel[state_dim:])
            x = nn.relu(nn.Dense(H, kernel_init=orthogonal(np.sqrt(2)), bias_init=constant(0.0))(x))
            return nn.Dense(1, kernel_init=orthogonal(1.0), bias_init=constant(0.0))(x)[..., 0]

    class LocalCritic(nn.Module):
        """IPPO's V(tau_i): a recurrent critic on the agent's own observations (with its id), its own
        ``Recurrent`` torso -> Dense-ReLU -> value (JaxMARL's ``CriticRNN``,
        ``baselines/IPPO/ippo_rnn_smax_split_networks.py``).  Returns (last hidden, values [T, B],
        hidden entering each step)."""

        @nn.compact
        def __call__(self, h, obs, reset):
            h, y, h_ins = Recurrent()(h, obs, reset)
            y = nn.relu(nn.Dense(H, kernel_init=orthogonal(2.0), bias_init=constant(0.0))(y))
            return h, nn.Dense(1, kernel_init=orthogonal(1.0), bias_init=constant(0.0))(y)[..., 0], h_ins

    return Actor(), (StateCritic() if critic == "state" else LocalCritic())


def _log_prob(logits, a):
    return jnp.take_along_axis(jax.nn.log_softmax(logits), a[:, None], axis=-1)[:, 0]


def _entropy(logits):
    logp = jax.nn.log_softmax(logits)
    return -jnp.sum(jnp.where(logits > -1e9, jnp.exp(logp) * logp, 0.0), axis=-1)


class SMAXMAPPO:
    """The compiled pieces of one (task, config): ``init``, ``train_chunk`` (``k`` PPO updates
    as one program), ``rollout`` (whole episodes from fresh resets, for evaluation, datasets and
    the replay sample)."""

    def __init__(self, task: TaskSpec, cfg: SMAXMAPPOConfig, total_updates: int):
        import optax

        self.task, self.cfg, self.total_updates = task, cfg, total_updates
        self.env = smax_functions(task)
        N, E, H = self.env.n_agents, cfg.num_envs, cfg.hidden
        self.N, self.E = N, E
        self.actor, self.critic = _networks(task.action_dim, H, task.state_dim, N, cfg.critic,
                                                cfg.state_norm)
        steps_per_update = cfg.epochs * cfg.minibatches

        def schedule(count):
            frac = 1.0 - (count // steps_per_update) / total_updates
            return cfg.lr * frac if cfg.anneal_lr else cfg.lr

        self.tx = optax.chain(optax.clip_by_global_norm(cfg.grad_clip), optax.adam(schedule, eps=1e-5))
        self.eye = jnp.eye(N)
        self.train_chunk = jax.jit(self._train_chunk, static_argnums=1)
        self.rollout = jax.jit(self._rollout, static_argnums=(2, 3, 4))

    # -- state -----------------------------------------------------------------------------------
    def actor_input(self, obs):
        """[..., N, O] observations -> the actor's input: with ``agent_id``, each agent's one-hot id appended."""
        if not self.cfg.agent_id:
            return obs
        lead = obs.shape[:-2]
        return jnp.concatenate([obs, jnp.broadcast_to(self.eye, lead + (self.N, self.N)).astype(obs.dtype)], axis=-1)

    def init(self, key):
        """The runner: parameters, optimiser states, envs, recurrent states, episode counters."""
        E, N, H = self.E, self.N, self.cfg.hidden
        k_a, k_c, k_env, key = jax.random.split(key, 4)
        B = E * N
        h0 = jnp.zeros((B, H))
        obs_width = self.task.obs_dim + (N if self.cfg.agent_id else 0)
        actor_params = self.actor.init(k_a, h0, jnp.zeros((1, B, obs_width)), jnp.zeros((1, B), bool),
                                       jnp.ones((1, B, self.task.action_dim), bool))
        if self.cfg.critic == "state":
            critic_params = self.critic.init(k_c, jnp.zeros((E, self.task.state_dim)))
        else:
            critic_params = self.critic.init(k_c, h0, jnp.zeros((1, B, obs_width)), jnp.zeros((1, B), bool))
        env_state, (obs, state, avail) = jax.vmap(self.env.reset)(jax.random.split(k_env, E))
        return {"actor": actor_params, "critic": critic_params,
                "actor_opt": self.tx.init(actor_params), "critic_opt": self.tx.init(critic_params),
                "env": env_state, "obs": obs, "state": state, "avail": avail,
                "start": jnp.ones(B, bool), "h_actor": h0, "h_critic": h0,
                "ep_return": jnp.zeros(E), "key": key}

    # -- one update ------------------------------------------------------------------------------
    def _env_step(self, runner, _):
        E, N = self.E, self.N
        key, k_act, k_step, k_reset = jax.random.split(runner["key"], 4)
        obs = self.actor_input(runner["obs"]).reshape(E * N, -1)
        avail = runner["avail"].reshape(E * N, -1)
        h_a, logits = self.actor.apply(runner["actor"], runner["h_actor"], obs[None], runner["start"][None],
                                       avail[None])
        logits = logits[0]
        action = jax.random.categorical(k_act, logits)
        logp = _log_prob(logits, action)
        env_state, (o2, s2, m2), reward, term, trunc, won = jax.vmap(self.env.step)(
            jax.random.split(k_step, E), runner["env"], action.reshape(E, N))
        done = term | trunc
        fresh, (o0, s0, m0) = jax.vmap(self.env.reset)(jax.random.split(k_reset, E))
        pick = lambda a, b: jax.tree_util.tree_map(  # noqa: E731 - fresh episode where done
            lambda x, y: jnp.where(done.reshape((E,) + (1,) * (x.ndim - 1)), x, y), a, b)
        ep_return = runner["ep_return"] + reward
        transition = {"obs": obs, "h": runner["h_actor"], "state": runner["state"], "avail": avail,
                      "start": runner["start"], "action": action, "logp": logp,
                      "reward": jnp.repeat(reward, N), "done": jnp.repeat(done, N),
                      "ep_done": done, "ep_won": won & done, "ep_return": jnp.where(done, ep_return, 0.0)}
        runner = {**runner, "env": pick(fresh, env_state), "obs": pick(o0, o2), "state": pick(s0, s2),
                  "avail": pick(m0, m2), "start": jnp.repeat(done, N), "h_actor": h_a,
                  "ep_return": jnp.where(done, 0.0, ep_return), "key": key}
        return runner, transition

    def _update(self, runner, _):
        import optax

        cfg, E, N, T = self.cfg, self.E, self.N, self.cfg.rollout_steps
        runner, traj = jax.lax.scan(self._env_step, runner, None, T)
        # the critic on the whole rollout at once, t = 0..T (T: bootstrap)
        states = jnp.concatenate([traj.pop("state"), runner["state"][None]])            # [T + 1, E, S]
        if cfg.critic == "state":   # V(s_t, id_i)
            values = self.critic.apply(runner["critic"], states).reshape(T + 1, E * N)
        else:                       # V(tau_i,t), the recurrent state carried from the last rollout
            obs_all = jnp.concatenate([traj["obs"], self.actor_input(runner["obs"]).reshape(1, E * N, -1)])
            start_all = jnp.concatenate([traj["start"], runner["start"][None]])
            _, values, h_critic = self.critic.apply(runner["critic"], runner["h_critic"], obs_all, start_all)
            runner = {**runner, "h_critic": h_critic[T]}   # entering the next rollout's first step
            traj["h_critic"] = h_critic[:T]
        traj["value"], last_value = values[:T], values[T]

        def gae_step(carry, tr):  # GAE (Schulman et al. 2016), backwards in time
            gae, next_value = carry
            nonterminal = 1.0 - tr["done"]
            delta = tr["reward"] + cfg.gamma * next_value * nonterminal - tr["value"]
            gae = delta + cfg.gamma * cfg.gae_lambda * nonterminal * gae
            return (gae, tr["value"]), gae

        _, adv = jax.lax.scan(gae_step, (jnp.zeros_like(last_value), last_value),
                              {k: traj[k] for k in ("done", "reward", "value")}, reverse=True)
        targets = adv + traj["value"]

        def actor_loss(actor_params, h_a, mb, mb_adv):
            _, logits = self.actor.apply(actor_params, h_a, mb["obs"], mb["start"], mb["avail"])
            logits = logits.reshape(-1, logits.shape[-1])
            logp = _log_prob(logits, mb["action"].reshape(-1)).reshape(mb["action"].shape)
            ratio = jnp.exp(logp - mb["logp"])
            a = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
            # PPO's clipped surrogate: -E[min(r A, clip(r, 1-eps, 1+eps) A)], minus the entropy bonus
            pg = -jnp.minimum(ratio * a, jnp.clip(ratio, 1 - cfg.clip, 1 + cfg.clip) * a).mean()
            return pg - cfg.entropy * _entropy(logits).mean()

        def critic_loss(critic_params, mb):
            if cfg.critic == "state":
                value = self.critic.apply(critic_params, mb["state"])
            else:
                _, value, _ = self.critic.apply(critic_params, mb["h"][0], mb["obs"], mb["start"])
            # clipped value loss: 0.5 * max((V - R)^2, (V_old + clip(V - V_old, -eps, eps) - R)^2)
            v_clip = mb["value"] + jnp.clip(value - mb["value"], -cfg.clip, cfg.clip)
            mb_targets = mb["targets"]
            return cfg.value_coef * 0.5 * jnp.maximum((value - mb_targets) ** 2, (v_clip - mb_targets) ** 2).mean()

        # sequences of chunk_length steps, each starting from the hidden state the rollout had there:
        # [T, B, ...] -> [C, (T / C) * B, ...]
        C = cfg.chunk_length
        chunked = lambda x: x.reshape((T // C, C) + x.shape[1:]).swapaxes(0, 1).reshape(  # noqa: E731
            (C, (T // C) * x.shape[1]) + x.shape[2:])
        seq_keys = ("obs", "avail", "start", "action", "logp")
        seqs = {k: chunked(traj[k]) for k in seq_keys}
        h_start = traj["h"][::C].reshape((T // C) * E * N, -1)
        adv_c = chunked(adv)
        # the critic's samples, all [leading, rows, ...] and minibatched over rows
        if cfg.critic == "state":   # (t, env) states with the N agents' old values and targets
            critic_data = {"state": states[:T].reshape(1, T * E, -1), "value": traj["value"].reshape(1, T * E, N),
                           "targets": targets.reshape(1, T * E, N)}
        else:                       # the actor's sequences, from the critic's own hidden states
            critic_data = {"obs": seqs["obs"], "start": seqs["start"], "value": chunked(traj["value"]),
                           "targets": chunked(targets),
                           "h": traj["h_critic"][::C].reshape(1, (T // C) * E * N, -1)}
        critic_rows = critic_data["value"].shape[1]

        def epoch(carry, _):
            state, key = carry
            key, k, k_c = jax.random.split(key, 3)
            perm = jax.random.permutation(k, (T // C) * E * N).reshape(cfg.minibatches, -1)
            perm_critic = jax.random.permutation(k_c, critic_rows).reshape(cfg.minibatches, -1)

            def minibatch(state, idx):
                idx, idx_c = idx
                mb = {k: seqs[k][:, idx] for k in seq_keys}
                ga = jax.grad(actor_loss)(state["actor"], h_start[idx], mb, adv_c[:, idx])
                gc = jax.grad(critic_loss)(state["critic"], {k: v[:, idx_c] for k, v in critic_data.items()})
                ua, actor_opt = self.tx.update(ga, state["actor_opt"], state["actor"])
                uc, critic_opt = self.tx.update(gc, state["critic_opt"], state["critic"])
                return {"actor": optax.apply_updates(state["actor"], ua),
                        "critic": optax.apply_updates(state["critic"], uc),
                        "actor_opt": actor_opt, "critic_opt": critic_opt}, None

            state, _ = jax.lax.scan(minibatch, state, (perm, perm_critic))
            return (state, key), None

        learn = {k: runner[k] for k in ("actor", "critic", "actor_opt", "critic_opt")}
        key, k_epochs = jax.random.split(runner["key"])
        (learn, _), _ = jax.lax.scan(epoch, (learn, k_epochs), None, cfg.epochs)
        runner = {**runner, **learn, "key": key}
        stats = jnp.stack([traj["ep_done"].sum(), traj["ep_won"].sum(), traj["ep_return"].sum()])
        return runner, stats

    def _train_chunk(self, runner, n_updates: int):
        """``n_updates`` PPO updates; returns the runner and (episodes ended, won, return sum)."""
        runner, stats = jax.lax.scan(self._update, runner, None, n_updates)
        return runner, stats.sum(0)

    # -- whole episodes --------------------------------------------------------------------------
    def _rollout(self, actor_params, key, n_envs: int, record: bool, greedy: bool = False):
        """``n_envs`` episodes from fresh resets, played to their end by the stochastic policy (``greedy``:
        its most probable action).
        Returns per-episode return, won, terminated and length; with ``record``, also the
        per-step obs / state / avail ([L+2, n, ...]: before every step and after the last),
        actions and rewards ([L+1, n, ...]) -- steps after an episode's end are frozen."""
        N, L = self.N, self.task.episode_limit + 1
        k_reset, key = jax.random.split(key)
        env_state, (obs, state, avail) = jax.vmap(self.env.reset)(jax.random.split(k_reset, n_envs))
        carry = {"env": env_state, "obs": obs, "state": state, "avail": avail,
                 "h": jnp.zeros((n_envs * N, self.cfg.hidden)), "active": jnp.ones(n_envs, bool),
                 "ret": jnp.zeros(n_envs), "won": jnp.zeros(n_envs, bool), "term": jnp.zeros(n_envs, bool),
                 "length": jnp.zeros(n_envs, jnp.int32), "key": key, "first": jnp.ones(n_envs * N, bool)}

        def step(c, _):
            key, k_act, k_step = jax.random.split(c["key"], 3)
            obs = self.actor_input(c["obs"]).reshape(n_envs * N, -1)
            h, logits = self.actor.apply(actor_params, c["h"], obs[None], c["first"][None],
                                         c["avail"].reshape(1, n_envs * N, -1))
            logits = logits[0]
            action = (jnp.argmax(logits, -1) if greedy else jax.random.categorical(k_act, logits)).reshape(n_envs, N)
            env_state, (o2, s2, m2), r, term, trunc, won = jax.vmap(self.env.step)(
                jax.random.split(k_step, n_envs), c["env"], action)
            act = c["active"]
            keep = lambda new, old: jax.tree_util.tree_map(  # noqa: E731 - finished episodes stay frozen
                lambda x, y: jnp.where(act.reshape((n_envs,) + (1,) * (x.ndim - 1)), x, y), new, old)
            out = {"obs": c["obs"], "state": c["state"], "avail": c["avail"], "action": action,
                   "reward": r * act} if record else {}
            c = {**c, "env": keep(env_state, c["env"]), "obs": keep(o2, c["obs"]), "state": keep(s2, c["state"]),
                 "avail": keep(m2, c["avail"]), "h": h, "active": act & ~(term | trunc), "ret": c["ret"] + r * act,
                 "won": c["won"] | (won & act), "term": c["term"] | (term & act), "length": c["length"] + act,
                 "key": key, "first": jnp.zeros_like(c["first"])}
            return c, out

        c, traj = jax.lax.scan(step, carry, None, L)
        result = {"returns": c["ret"], "wins": c["won"], "terminated": c["term"], "lengths": c["length"],
                  "unfinished": c["active"]}
        if record:
            for k in ("obs", "state", "avail"):
                traj[k] = jnp.concatenate([traj[k], c[k][None]], axis=0)
            result.update(traj)
        return result


def episodes_from_rollout(out: dict, **extra) -> list:
    """Cut a recorded :meth:`SMAXMAPPO.rollout` into episode dicts (``envs.dataset.from_episodes``'s
    form): obs [L+1, N, O], state [L+1, S], avail [L+1, N, A], actions [L, N], reward [L],
    ``terminated``, ``win`` and ``extra``.  Episodes that never ended are dropped."""
    out = {k: np.asarray(v) for k, v in out.items()}
    episodes = []
    for i in range(out["returns"].shape[0]):
        L = int(out["lengths"][i])
        if L == 0 or out["unfinished"][i]:
            continue
        episodes.append({"obs": out["obs"][: L + 1, i], "state": out["state"][: L + 1, i],
                         "avail": out["avail"][: L + 1, i], "actions": out["action"][:L, i].astype(np.int64),
                         "reward": out["reward"][:L, i].astype(np.float32),
                         "terminated": bool(out["terminated"][i]), "win": bool(out["wins"][i]), **extra})
    return episodes


# -- the run -------------------------------------------------------------------------------------

def _to_numpy(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def _from_numpy(template, leaves):
    """``leaves`` put into ``template``'s structure; a different number of leaves, or a leaf of
    another shape or dtype (a state saved by other code or sizes), is refused here rather than
    failing, or silently recompiling, inside the compiled update."""
    want = jax.tree_util.tree_leaves(template)
    if len(leaves) != len(want):
        raise ValueError(f"{len(leaves)} arrays, the learner has {len(want)}")
    for i, (x, w) in enumerate(zip(leaves, want)):
        x = np.asarray(x)
        if x.shape != tuple(w.shape) or x.dtype != w.dtype:
            raise ValueError(f"array {i} is {x.dtype}{list(x.shape)}, the learner's is {w.dtype}{list(w.shape)}")
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), [jnp.asarray(x) for x in leaves])


def run_sizes(env_steps: int, cfg: SMAXMAPPOConfig):
    """(updates per chunk, chunks): ``n_points`` chunks of equal length covering ``env_steps``
    (rounded down to whole updates, at least one update per chunk)."""
    updates = max(1, env_steps // (cfg.num_envs * cfg.rollout_steps))
    points = min(cfg.n_points, updates)
    return updates // points, points


def train_smax_mappo(task: TaskSpec, env_steps: int, cfg: SMAXMAPPOConfig = None, seed: int = 0,
                     record_episodes: int = 0, log=print, resume_file=None, keep_resume: bool = False) -> dict:
    """Train MAPPO on a SMAX task for ``env_steps`` environment steps.

    Returns the run: ``checkpoints`` (one per chunk boundary, the first before any update: actor
    parameters as numpy leaves, evaluated ``win_rate`` / ``return_mean``), ``curve`` (the same
    points with the training episodes' win rate and return), and with ``record_episodes=K`` a pool
    of about K episodes played by the training policy across the run (``record_per_point`` per
    chunk boundary after the first).  With ``resume_file`` the whole state is saved there at every
    chunk boundary (``envs.resume``, code-free) and a rerun continues from it to the same result
    (JAX on the CPU is deterministic; up to the wall-clock fields)."""
    cfg = cfg or SMAXMAPPOConfig()
    cfg.validate(env_steps)
    per_chunk, n_chunks = run_sizes(env_steps, cfg)
    learner = SMAXMAPPO(task, cfg, per_chunk * n_chunks)
    steps_per_update = cfg.num_envs * cfg.rollout_steps
    record_per_point = math.ceil(record_episodes / n_chunks) if record_episodes > 0 else 0
    runner = learner.init(jax.random.PRNGKey(seed))
    eval_key = jax.random.PRNGKey(seed + 1)
    record_key = jax.random.PRNGKey(seed + 2)
    checkpoints, curve, episodes = [], [], []
    start, t0 = 0, time.perf_counter()
    fingerprint = {"kind": "smax_mappo_jax", "task": task.id, "env_steps": env_steps, "seed": seed,
                   "record_episodes": record_episodes, **{f"cfg.{k}": v for k, v in asdict(cfg).items()}}
    if resume_file is not None:
        from envs.resume import load_resume, set_aside
        saved = load_resume(resume_file, fingerprint, log)
        if saved is not None:
            try:
                runner = _from_numpy(runner, saved["runner"])
                start, checkpoints = int(saved["chunk"]), list(saved["checkpoints"])
                curve, episodes = list(saved["curve"]), list(saved["episodes"])
                eval_key, record_key = jnp.asarray(saved["eval_key"]), jnp.asarray(saved["record_key"])
                t0 -= float(saved["wall_s"])
            except Exception as exc:  # noqa: BLE001 - loads, but does not fit this run: start clean
                set_aside(resume_file, f"resume state does not fit the run ({type(exc).__name__}: "
                                       f"{str(exc)[:300]})", log)
                return train_smax_mappo(task, env_steps, cfg, seed, record_episodes, log, resume_file, keep_resume)
            log(f"[MAPPO-JAX {task.name}] resumed at chunk {start} of {n_chunks} from {resume_file}")

    def point(chunk, train_stats):
        nonlocal eval_key, record_key
        eval_key, k = jax.random.split(eval_key)
        res = learner.rollout(runner["actor"], k, cfg.eval_episodes, False)
        wins, rets = np.asarray(res["wins"]), np.asarray(res["returns"])
        it = chunk * per_chunk
        ended, won, ret_sum = (float(x) for x in np.asarray(train_stats))
        checkpoints.append({"iteration": it, "env_steps": it * steps_per_update, "win_rate": float(wins.mean()),
                            "return_mean": float(rets.mean()), "returns": rets.astype(np.float32),
                            "actor": _to_numpy(runner["actor"])})
        curve.append({"iteration": it, "env_steps": it * steps_per_update, "wall_s": time.perf_counter() - t0,
                      "win_rate": float(wins.mean()), "return_mean": float(rets.mean()),
                      "train_episodes": int(ended), "train_win_rate": won / ended if ended else float("nan"),
                      "train_return_mean": ret_sum / ended if ended else float("nan")})
        if record_per_point and chunk > 0:
            record_key, k = jax.random.split(record_key)
            out = learner.rollout(runner["actor"], k, record_per_point, True)
            episodes.extend(episodes_from_rollout(out, iteration=it))
        log(f"[MAPPO-JAX {task.name}] update {it}/{per_chunk * n_chunks}, {it * steps_per_update} env steps, "
            f"{time.perf_counter() - t0:.0f} s: eval win rate {wins.mean():.3f}, return {rets.mean():.3f}; "
            f"training episodes {int(ended)}, won {won / max(ended, 1):.3f}")

    if start == 0:
        point(0, np.zeros(3))
    for chunk in range(start + 1, n_chunks + 1):
        runner, stats = learner.train_chunk(runner, per_chunk)
        point(chunk, stats)
        if resume_file is not None and chunk < n_chunks:
            from envs.resume import save_resume
            save_resume(resume_file, fingerprint, {
                "chunk": chunk, "runner": _to_numpy(runner), "checkpoints": checkpoints, "curve": curve,
                "episodes": episodes, "eval_key": np.asarray(eval_key), "record_key": np.asarray(record_key),
                "wall_s": time.perf_counter() - t0})
    if resume_file is not None and not keep_resume:
        from envs.resume import discard_resume
        discard_resume(resume_file)
    total = per_chunk * n_chunks * steps_per_update
    return {"kind": "smax_mappo_jax", "task": task.name, "task_id": task.id, "config": asdict(cfg), "seed": seed,
            "checkpoints": checkpoints, "curve": curve, "episodes": episodes, "env_steps": total,
            "updates": per_chunk * n_chunks, "record_per_point": record_per_point,
            "wall_s": time.perf_counter() - t0}


def actor_policy(task: TaskSpec, run: dict, checkpoint: dict) -> tuple:
    """(learner, actor parameters) of one checkpoint of a run, for playing episodes."""
    cfg = SMAXMAPPOConfig(**run["config"])
    learner = SMAXMAPPO(task, cfg, max(1, run.get("updates", 1)))
    template = learner.init(jax.random.PRNGKey(0))["actor"]
    try:
        return learner, _from_numpy(template, checkpoint["actor"])
    except ValueError as exc:
        raise ValueError(f"{task.id}: the run's checkpoint at update {checkpoint.get('iteration')} does not fit this "
                         f"code's SMAX MAPPO actor ({exc}): the run was made by other code or settings; remove it "
                         f"and the pipeline remakes it") from exc


def play_checkpoint(task: TaskSpec, run: dict, checkpoint: dict, n_episodes: int, seed: int, batch: int = 128,
                    keep=None, max_batches: int = 200) -> tuple:
    """Episodes of one checkpoint's stochastic policy, played ``batch`` at a time from fresh resets;
    with ``keep(episode) -> bool`` only those kept count, until ``n_episodes`` are kept or
    ``max_batches`` batches were played.  Returns (episodes, number played)."""
    learner, params = actor_policy(task, run, checkpoint)
    key = jax.random.PRNGKey(seed)
    kept, played = [], 0
    for _ in range(max_batches):
        key, k = jax.random.split(key)
        out = learner.rollout(params, k, batch, True)
        eps = episodes_from_rollout(out)
        played += len(eps)
        kept.extend(e for e in eps if keep is None or keep(e))
        if len(kept) >= n_episodes:
            break
    return kept[:n_episodes], played


# -- the run on disk: arrays and a JSON header, never a pickle -----------------------------------

_EPISODE_ARRAYS = ("obs", "state", "avail", "actions", "reward")


def save_run(run: dict, path) -> None:
    """Write ``run`` as an ``.npz``: checkpoints' parameters and the recorded episodes as arrays,
    everything else in a JSON header (``header``)."""
    arrays, header = {}, {k: v for k, v in run.items() if k not in ("checkpoints", "episodes")}
    header["checkpoints"] = []
    for i, ck in enumerate(run["checkpoints"]):
        header["checkpoints"].append({k: v for k, v in ck.items() if k not in ("actor", "returns")}
                                     | {"n_leaves": len(ck["actor"])})
        arrays[f"ck{i}_returns"] = np.asarray(ck["returns"])
        for j, leaf in enumerate(ck["actor"]):
            arrays[f"ck{i}_leaf{j}"] = leaf
    eps = run["episodes"]
    header["episodes"] = [{"terminated": e["terminated"], "win": e["win"], "iteration": e.get("iteration", 0),
                           "length": int(len(e["reward"]))} for e in eps]
    for k in _EPISODE_ARRAYS:
        if eps:  # steps of all episodes end to end (obs-like arrays carry one more row per episode)
            arrays[f"ep_{k}"] = np.concatenate([e[k] for e in eps], axis=0)
    arrays["header"] = np.frombuffer(json.dumps(header, allow_nan=True).encode(), np.uint8)
    from envs.files import atomic_path
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


class RunFileError(ValueError):
    """A SMAX MAPPO run file that is not one, or not the run its rule expects; the message names
    the file and the problem."""


#: what a run file holds: the JSON header, each checkpoint's returns and actor leaves, the episodes
_RUN_MEMBER = re.compile(r"header|ck\d+_returns|ck\d+_leaf\d+|ep_(?:obs|state|avail|actions|reward)")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def _declared_arrays(path) -> dict:
    """{name: (shape, dtype)} of the ``.npz``'s arrays as their headers declare them, read without
    reading (or allocating) their data; refuses a file that is not a readable zip of ``.npy``
    arrays, an array of Python objects (a pickle), or a member this format never writes."""
    from envs.importers.common import describe_start as _describe_start

    path = str(path)
    if os.path.isdir(path):
        raise RunFileError(f"{path}: a directory, not a SMAX MAPPO run file")
    if not os.path.exists(path):
        raise RunFileError(f"{path}: no such SMAX MAPPO run file")
    if os.path.getsize(path) == 0:
        raise RunFileError(f"{path}: empty file (0 bytes), not a SMAX MAPPO run file; delete it and rerun")
    with open(path, "rb") as f:
        if f.read(4) not in _ZIP_MAGIC:
            raise RunFileError(f"{path}: not a SMAX MAPPO run file (an .npz is a zip archive; this is "
                               f"{_describe_start(path)})")
    declared = {}
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else None
                if name is None or not _RUN_MEMBER.fullmatch(name):
                    raise RunFileError(f"{path}: holds {info.filename!r}, which a SMAX MAPPO run file never holds")
                with z.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = reader(f)
                if dtype.hasobject:
                    raise RunFileError(f"{path}: not a SMAX MAPPO run file: array {name!r} holds Python objects "
                                       "(a pickle), which a run file never holds; it was not loaded")
                declared[name] = (tuple(shape), dtype)
    except RunFileError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as exc:
        raise RunFileError(f"{path}: not a readable SMAX MAPPO run file, truncated or damaged "
                           f"({type(exc).__name__}: {str(exc)[:200]}); delete it and rerun the behaviour run") from None
    if "header" not in declared:
        raise RunFileError(f"{path}: no 'header' array, not a SMAX MAPPO run file")
    return declared


def _check_declared_sizes(path, declared: dict) -> None:
    """The arrays' declared sizes against the memory available now: a crafted header (10^12 values
    of a zip of zeros) is refused naming the file, not allocated."""
    from envs.host_memory import available_memory_bytes

    nbytes = sum(math.prod(shape) * dtype.itemsize for shape, dtype in declared.values())
    avail = available_memory_bytes()
    if nbytes > avail:
        raise RunFileError(f"{path}: declares {nbytes / 2**30:.1f} GiB of arrays, more than the memory available "
                           f"now ({avail / 2**30:.1f} GiB); a damaged or crafted file, or free memory and rerun")
    shape, dtype = declared["header"]
    if len(shape) != 1 or dtype != np.uint8:
        raise RunFileError(f"{path}: 'header' is {dtype}{list(shape)}, not the bytes of a JSON header")


def _check_episode_rows(path, declared: dict, meta: list) -> None:
    """The header's episode lengths against the episode arrays' rows (slices past an array's end
    would give shorter episodes silently)."""
    if not meta:
        return
    try:
        lengths = [int(m["length"]) for m in meta]
    except (TypeError, KeyError, ValueError):
        raise RunFileError(f"{path}: the header's episodes lack integer lengths") from None
    steps, rows = sum(lengths), sum(lengths) + len(lengths)
    for k in _EPISODE_ARRAYS:
        want = steps if k in ("actions", "reward") else rows
        have = declared.get(f"ep_{k}", ((0,), None))[0]
        if not have or have[0] != want:
            raise RunFileError(f"{path}: 'ep_{k}' holds {have[0] if have else 0} rows, the header's "
                               f"{len(lengths)} episodes need {want}")


def check_run_matches(path, header: dict, task: TaskSpec = None, expect: dict = None) -> None:
    """The run's recorded task, backend and settings against what the rule expects: ``task`` (the
    task as the rule configures it) and ``expect`` (``config``: the ``SMAXMAPPOConfig`` fields set;
    ``env_steps``: the steps asked of the run; ``seed``; ``record_episodes``).  A run of another task
    placed at this path would otherwise become a dataset labelled with the path's task."""
    if header.get("kind") != "smax_mappo_jax":
        raise RunFileError(f"{path}: kind {header.get('kind')!r}, not a SMAX MAPPO run (smax_mappo_jax)")
    wrong = []
    if task is not None:
        if header.get("task_id") != task.id:
            wrong.append(f"task {header.get('task_id')!r} (the path's is {task.id!r})")
        if task.backend != "smax":  # this learner runs SMAX only
            wrong.append(f"backend smax (the task is configured on {task.backend!r})")
    expect = expect or {}
    if "config" in expect:
        cfg = SMAXMAPPOConfig(**expect["config"])
        recorded = header.get("config") if isinstance(header.get("config"), dict) else {}
        for k, v in asdict(cfg).items():
            if recorded.get(k) != v:
                wrong.append(f"{k} {recorded.get(k)!r} (the config's is {v!r})")
        if "env_steps" in expect:
            per_chunk, n_chunks = run_sizes(int(expect["env_steps"]), cfg)
            total = per_chunk * n_chunks * cfg.num_envs * cfg.rollout_steps
            if header.get("env_steps") != total:
                wrong.append(f"env_steps {header.get('env_steps')!r} (the config's {expect['env_steps']} make {total})")
            if "record_episodes" in expect:
                per_point = math.ceil(expect["record_episodes"] / n_chunks) if expect["record_episodes"] > 0 else 0
                if header.get("record_per_point") != per_point:
                    wrong.append(f"record_per_point {header.get('record_per_point')!r} (the config's "
                                 f"{expect['record_episodes']} episodes make {per_point})")
    if "seed" in expect and header.get("seed") != expect["seed"]:
        wrong.append(f"seed {header.get('seed')!r} (the config's is {expect['seed']!r})")
    if wrong:
        raise RunFileError(f"{path}: not the run this dataset is made from: " + "; ".join(wrong)
                           + "; delete it (or put the right run there) and rerun")


def load_run(path, task: TaskSpec = None, expect: dict = None) -> dict:
    """Read a run written by :func:`save_run` (``allow_pickle=False``: nothing in the file runs),
    checked as the dataset loader checks its files: kind, size, every array's declared size against
    the memory available, the header's depth, its episodes against the arrays, and (with ``task``
    and ``expect``, :func:`check_run_matches`) the recorded task, backend and settings.  Anything
    else raises :class:`RunFileError` naming the file."""
    declared = _declared_arrays(path)
    _check_declared_sizes(path, declared)
    try:
        with np.load(path, allow_pickle=False) as z:
            try:
                header = json.loads(bytes(z["header"]).decode())
            except RecursionError:
                raise RunFileError(f"{path}: the JSON header is nested too deeply to read "
                                   f"({declared['header'][0][0]} bytes): not a header this format writes") from None
            if not isinstance(header, dict):
                raise RunFileError(f"{path}: the header holds a JSON {type(header).__name__}, not an object")
            check_run_matches(path, header, task, expect)
            meta = header.pop("episodes")
            _check_episode_rows(path, declared, meta)
            checkpoints = []
            for i, ck in enumerate(header.pop("checkpoints")):
                n = ck.pop("n_leaves")
                checkpoints.append({**ck, "returns": z[f"ck{i}_returns"],
                                    "actor": [z[f"ck{i}_leaf{j}"] for j in range(n)]})
            arrays = {k: z[f"ep_{k}"] for k in _EPISODE_ARRAYS if f"ep_{k}" in z.files}
    except RunFileError:
        raise
    except MemoryError:
        raise RunFileError(f"{path}: out of memory while reading it; free memory and rerun") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, EOFError,
            zipfile.BadZipFile, zlib.error) as exc:
        raise RunFileError(f"{path}: not a SMAX MAPPO run file ({type(exc).__name__}: {str(exc)[:200]})") from exc
    episodes, step, row = [], 0, 0
    for m in meta:
        L = m.pop("length")
        episodes.append({**m, "actions": arrays["actions"][step: step + L], "reward": arrays["reward"][step: step + L],
                         **{k: arrays[k][row: row + L + 1] for k in ("obs", "state", "avail")}})
        step, row = step + L, row + L + 1
    return {**header, "checkpoints": checkpoints, "episodes": episodes}

"""The compiled pieces of the SMAX MAPPO behaviour learner (``behaviour.smac_like.mappo`` runs it).

Following JaxMARL's ``baselines/MAPPO/mappo_rnn_smax.py`` (after PureJaxRL's ``ppo.py``): envs
vmapped, each rollout a ``lax.scan`` of policy + simulator steps (``_env_step``), then the critic's
values (``_values``), GAE (``_gae``), the update's sequences (``_training_data``) and the PPO epochs
and minibatches (``_epoch``), a ``lax.scan`` too; ``train_chunk`` is ``k`` such updates as one
compiled program.  ``rollout`` plays whole episodes from fresh resets (evaluation, datasets, the
replay sample); ``episodes_from_rollout`` cuts them into episode dicts.
"""
from __future__ import annotations

import functools

import numpy as np

from behaviour.smac_like.mappo_config import SMAXMAPPOConfig
from behaviour.smac_like.mappo_networks import entropy, log_prob, networks
from envs.smax_backend import jax, jnp, smax_functions  # JAX configured by the entry point (envs/jax_host.py)
from envs.spec import TaskSpec

#: the actor's per-step inputs that the update cuts into sequences
_SEQ_KEYS = ("obs", "avail", "start", "action", "logp")


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
        self.actor, self.critic = networks(task.action_dim, H, task.state_dim, N, cfg.critic, cfg.state_norm)
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
        logp = log_prob(logits, action)
        env_state, (o2, s2, m2), reward, term, trunc, won = jax.vmap(self.env.step)(
            jax.random.split(k_step, E), runner["env"], action.reshape(E, N))
        done = term | trunc
        fresh, (o0, s0, m0) = jax.vmap(self.env.reset)(jax.random.split(k_reset, E))
        pick = lambda a, b: jax.tree_util.tree_map(  # fresh episode where done
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


    def _values(self, runner, traj):
        """The critic on the whole rollout at once, t = 0..T (T: bootstrap): (runner, traj with its
        ``value`` [T, B], the last value [B], the states [T + 1, E, S])."""
        cfg, E, N, T = self.cfg, self.E, self.N, self.cfg.rollout_steps
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
        return runner, traj, last_value, states

    def _gae(self, traj, last_value):
        """GAE (Schulman et al. 2016), backwards in time: the advantages [T, B]."""
        cfg = self.cfg

        def gae_step(carry, tr):
            gae, next_value = carry
            nonterminal = 1.0 - tr["done"]
            delta = tr["reward"] + cfg.gamma * next_value * nonterminal - tr["value"]
            gae = delta + cfg.gamma * cfg.gae_lambda * nonterminal * gae
            return (gae, tr["value"]), gae

        _, adv = jax.lax.scan(gae_step, (jnp.zeros_like(last_value), last_value),
                              {k: traj[k] for k in ("done", "reward", "value")}, reverse=True)
        return adv

    def _actor_loss(self, actor_params, h_a, mb, mb_adv):
        cfg = self.cfg
        _, logits = self.actor.apply(actor_params, h_a, mb["obs"], mb["start"], mb["avail"])
        logits = logits.reshape(-1, logits.shape[-1])
        logp = log_prob(logits, mb["action"].reshape(-1)).reshape(mb["action"].shape)
        ratio = jnp.exp(logp - mb["logp"])
        a = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
        # PPO's clipped surrogate: -E[min(r A, clip(r, 1-eps, 1+eps) A)], minus the entropy bonus
        pg = -jnp.minimum(ratio * a, jnp.clip(ratio, 1 - cfg.clip, 1 + cfg.clip) * a).mean()
        return pg - cfg.entropy * entropy(logits).mean()

    def _critic_loss(self, critic_params, mb):
        cfg = self.cfg
        if cfg.critic == "state":
            value = self.critic.apply(critic_params, mb["state"])
        else:
            _, value, _ = self.critic.apply(critic_params, mb["h"][0], mb["obs"], mb["start"])
        # clipped value loss: 0.5 * max((V - R)^2, (V_old + clip(V - V_old, -eps, eps) - R)^2)
        v_clip = mb["value"] + jnp.clip(value - mb["value"], -cfg.clip, cfg.clip)
        mb_targets = mb["targets"]
        return cfg.value_coef * 0.5 * jnp.maximum((value - mb_targets) ** 2, (v_clip - mb_targets) ** 2).mean()

    def _training_data(self, traj, adv, targets, states) -> dict:
        """The update's samples: the actor's sequences of ``chunk_length`` steps, each starting from
        the hidden state the rollout had there ([T, B, ...] -> [C, (T / C) * B, ...]), their first
        hidden states and advantages, and the critic's samples (all [leading, rows, ...], minibatched
        over rows)."""
        cfg, E, N, T = self.cfg, self.E, self.N, self.cfg.rollout_steps
        C = cfg.chunk_length
        chunked = lambda x: x.reshape((T // C, C) + x.shape[1:]).swapaxes(0, 1).reshape(
            (C, (T // C) * x.shape[1]) + x.shape[2:])
        seqs = {k: chunked(traj[k]) for k in _SEQ_KEYS}
        h_start = traj["h"][::C].reshape((T // C) * E * N, -1)
        adv_c = chunked(adv)
        if cfg.critic == "state":   # (t, env) states with the N agents' old values and targets
            critic_data = {"state": states[:T].reshape(1, T * E, -1), "value": traj["value"].reshape(1, T * E, N),
                           "targets": targets.reshape(1, T * E, N)}
        else:                       # the actor's sequences, from the critic's own hidden states
            critic_data = {"obs": seqs["obs"], "start": seqs["start"], "value": chunked(traj["value"]),
                           "targets": chunked(targets),
                           "h": traj["h_critic"][::C].reshape(1, (T // C) * E * N, -1)}
        return {"seqs": seqs, "h_start": h_start, "adv": adv_c, "critic": critic_data}

    def _epoch(self, data, carry, _):
        """One PPO epoch: the actor's sequences and the critic's samples in ``minibatches`` random parts."""
        import optax

        cfg, E, N, T = self.cfg, self.E, self.N, self.cfg.rollout_steps
        seqs, h_start, adv_c, critic_data = data["seqs"], data["h_start"], data["adv"], data["critic"]
        state, key = carry
        key, k, k_c = jax.random.split(key, 3)
        perm = jax.random.permutation(k, (T // cfg.chunk_length) * E * N).reshape(cfg.minibatches, -1)
        perm_critic = jax.random.permutation(k_c, critic_data["value"].shape[1]).reshape(cfg.minibatches, -1)

        def minibatch(state, idx):
            idx, idx_c = idx
            mb = {k: seqs[k][:, idx] for k in _SEQ_KEYS}
            ga = jax.grad(self._actor_loss)(state["actor"], h_start[idx], mb, adv_c[:, idx])
            gc = jax.grad(self._critic_loss)(state["critic"], {k: v[:, idx_c] for k, v in critic_data.items()})
            ua, actor_opt = self.tx.update(ga, state["actor_opt"], state["actor"])
            uc, critic_opt = self.tx.update(gc, state["critic_opt"], state["critic"])
            return {"actor": optax.apply_updates(state["actor"], ua),
                    "critic": optax.apply_updates(state["critic"], uc),
                    "actor_opt": actor_opt, "critic_opt": critic_opt}, None

        state, _ = jax.lax.scan(minibatch, state, (perm, perm_critic))
        return (state, key), None

    def _update(self, runner, _):
        """One PPO update: a rollout, its values and advantages, ``epochs`` epochs; returns the runner
        and (episodes ended, won, return sum) of the rollout."""
        runner, traj = jax.lax.scan(self._env_step, runner, None, self.cfg.rollout_steps)
        runner, traj, last_value, states = self._values(runner, traj)
        adv = self._gae(traj, last_value)
        targets = adv + traj["value"]
        data = self._training_data(traj, adv, targets, states)
        learn = {k: runner[k] for k in ("actor", "critic", "actor_opt", "critic_opt")}
        key, k_epochs = jax.random.split(runner["key"])
        (learn, _), _ = jax.lax.scan(functools.partial(self._epoch, data), (learn, k_epochs), None, self.cfg.epochs)
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
            keep = lambda new, old: jax.tree_util.tree_map(  # finished episodes stay frozen
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

"""The flax networks of the SMAX MAPPO behaviour learner (``behaviour.smac_like.mappo_learner``):
a recurrent actor and a centralised state critic (MAPPO) or a recurrent local critic (IPPO).
A saved run's checkpoints are these modules' parameter leaves in order: keep the structure
(class names, submodule order and parameter names)."""
from __future__ import annotations

import flax.linen as nn
import numpy as np
from flax.linen.initializers import constant, lecun_normal, orthogonal

from envs.smax_backend import jax, jnp  # JAX configured by the entry point (envs/jax_host.py)


def _gates_orthogonal(H: int):
    def init(key, shape, dtype=jnp.float32):
        # the recurrent kernel of each of the three gates orthogonal on its own, as flax's GRUCell has it
        return jnp.concatenate([orthogonal()(k, (shape[0], H), dtype) for k in jax.random.split(key, 3)], axis=1)
    return init


class Recurrent(nn.Module):
    """Dense-ReLU -> GRU over a sequence of T steps, the hidden state zeroed where ``reset`` (an
    episode starts at this input).  The GRU is flax's ``GRUCell`` (Cho et al. 2014):
        r = sig(W_ir x + b_ir + W_hr h),  z = sig(W_iz x + b_iz + W_hz h),
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h,
    written out with the input side on all T steps as one matmul and only the h-side products
    in the time loop (measured: as fast as flax's cell in a scan here, within 2 %), so that the
    actor and the local critic share it.  Returns (last hidden, outputs [T, B, H], the hidden
    state entering each step [T, B, H] (before its reset))."""
    hidden: int

    @nn.compact
    def __call__(self, h, x, reset):   # h [B, H]; x [T, B, I]; reset [T, B]
        H = self.hidden
        x = nn.relu(nn.Dense(H, kernel_init=orthogonal(np.sqrt(2)), bias_init=constant(0.0))(x))
        gx = nn.Dense(3 * H, kernel_init=lecun_normal(), bias_init=constant(0.0), name="gru_input")(x)
        w_h = self.param("gru_hidden_kernel", _gates_orthogonal(H), (H, 3 * H))
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
    hidden: int
    action_dim: int

    @nn.compact
    def __call__(self, h, obs, reset, avail):   # obs [T, B, O]; avail [T, B, A]
        h, y, _ = Recurrent(self.hidden)(h, obs, reset)
        y = nn.relu(nn.Dense(self.hidden, kernel_init=orthogonal(2.0), bias_init=constant(0.0))(y))
        logits = nn.Dense(self.action_dim, kernel_init=orthogonal(0.01), bias_init=constant(0.0))(y)
        return h, jnp.where(avail, logits, -1e10)


class StateCritic(nn.Module):
    """MAPPO's centralised V(s, i) of every agent i from the world state s (JaxMARL's
    ``SMAXWorldStateWrapper`` with ``OBS_WITH_AGENT_ID``: the state and the agent's one-hot id),
    feed-forward: the state is the whole battle, so the critic needs no memory.  Its first layer
    on [s, onehot(i)] is W_s s + W_id[i] + b, so the state's part is computed once for all N
    agents: the same function and initialisation as a Dense layer on the concatenation.
    With ``state_norm`` the state is layer-normalised first (MAPPO's feature normalisation):
    SMAX's world state carries raw map coordinates (up to ~26 here), its observations do not."""
    hidden: int
    state_dim: int
    n_agents: int
    state_norm: bool = False

    @nn.compact
    def __call__(self, state):   # [..., S] -> [..., N]
        H, S = self.hidden, self.state_dim
        if self.state_norm:
            state = nn.LayerNorm()(state)
        kernel = self.param("input_kernel", orthogonal(np.sqrt(2)), (S + self.n_agents, H))
        bias = self.param("input_bias", constant(0.0), (H,))
        x = nn.relu((state @ kernel[:S] + bias)[..., None, :] + kernel[S:])
        x = nn.relu(nn.Dense(H, kernel_init=orthogonal(np.sqrt(2)), bias_init=constant(0.0))(x))
        return nn.Dense(1, kernel_init=orthogonal(1.0), bias_init=constant(0.0))(x)[..., 0]


class LocalCritic(nn.Module):
    """IPPO's V(tau_i): a recurrent critic on the agent's own observations (with its id), its own
    ``Recurrent`` torso -> Dense-ReLU -> value (JaxMARL's ``CriticRNN``,
    ``baselines/IPPO/ippo_rnn_smax_split_networks.py``).  Returns (last hidden, values [T, B],
    hidden entering each step)."""
    hidden: int

    @nn.compact
    def __call__(self, h, obs, reset):
        h, y, h_ins = Recurrent(self.hidden)(h, obs, reset)
        y = nn.relu(nn.Dense(self.hidden, kernel_init=orthogonal(2.0), bias_init=constant(0.0))(y))
        return h, nn.Dense(1, kernel_init=orthogonal(1.0), bias_init=constant(0.0))(y)[..., 0], h_ins


def networks(action_dim: int, hidden: int, state_dim: int, n_agents: int, critic: str = "state",
             state_norm: bool = False) -> tuple:
    """(actor, critic) of the learner: the critic ``StateCritic`` ("state") or ``LocalCritic``."""
    critic_net = StateCritic(hidden, state_dim, n_agents, state_norm) if critic == "state" else LocalCritic(hidden)
    return Actor(hidden, action_dim), critic_net


def log_prob(logits, a):
    return jnp.take_along_axis(jax.nn.log_softmax(logits), a[:, None], axis=-1)[:, 0]


def entropy(logits):
    logp = jax.nn.log_softmax(logits)
    return -jnp.sum(jnp.where(logits > -1e9, jnp.exp(logp) * logp, 0.0), axis=-1)

"""ComaDICE's three formulations (algorithms/comadice.py).

- ``authors``: one update equals a reference written here from the authors' code
  (vietbt/ComaDICE runner/madice/{discrete,continuous}.py), step by step with its five
  Adams, for discrete and continuous actions: same losses, same parameter changes.  The
  reference is PyTorch, as the authors' code, started from the learner's initial weights.
- ``paper``: Eq. 11 with q held fixed has no finite fixed point: on a small episodic problem
  E_D[w] approaches 1 - gamma and nu_tot climbs past any value the rewards allow.
- ``sound``: E_D[w] stays near 1 and nu_tot within r_max / (1 - gamma).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from algorithms import make
from algorithms.base import Batch, Draws
from envs.dataset import OfflineDataset
from harness.data import batch_at, device_data, sample_batch, spec_from_dataset
from tests.problems import bandit, matrix_game


def chain(n_episodes: int = 200, horizon: int = 5, seed: int = 0) -> OfflineDataset:
    """Episodes of ``horizon`` steps for 2 agents with 2 actions each, observing the time step;
    reward 1 when both take action 0; random behaviour; the last step terminates.  Every
    return is at most ``horizon``."""
    rng = np.random.default_rng(seed)
    T = n_episodes * horizon
    t = np.tile(np.arange(horizon), n_episodes)
    obs = np.zeros((T, 2, horizon), np.float32)
    obs[np.arange(T), :, t] = 1.0
    actions = rng.integers(0, 2, (T, 2))
    reward = ((actions[:, 0] == 0) & (actions[:, 1] == 0)).astype(np.float32)
    final = np.zeros((n_episodes, 2, horizon), np.float32)
    return OfflineDataset(
        obs=obs, state=obs.reshape(T, -1), actions=actions, reward=reward, terminated=t == horizon - 1,
        truncated=np.zeros(T, bool), episode_start=t == 0, final_obs=final, final_state=final.reshape(n_episodes, -1),
        avail=np.ones((T, 2, 2), bool), final_avail=np.ones((n_episodes, 2, 2), bool),
        meta={"suite": "test", "task": "chain", "quality": "x", "backend": "none", "action_type": "discrete"})


def batch_arrays(b: Batch) -> dict:
    """A batch's fields as (writable) numpy arrays, absent ones left out."""
    return {k: np.array(v) for k, v in b._asdict().items() if v is not None}


def jax_batch(arrays: dict) -> Batch:
    return Batch(**{k: jnp.asarray(v, jnp.int32) if v.dtype.kind in "iu" else jnp.asarray(v)
                    for k, v in arrays.items()})


# -- the authors' update, written out from their code --------------------------------------

def r_fn(x):  # soft chi-square: (f')^-1 clipped at 0 (runner/madice/*.py _r_fn)
    return torch.where(x < 0, torch.exp(x.clamp_max(0)), x + 1)


def g_fn(x):  # f at r_fn(x) (runner/madice/*.py _g_fn)
    xc = x.clamp_max(0)
    return torch.where(x < 0, torch.exp(xc) * (xc - 1) + 1, 0.5 * x ** 2)


def mlp(p: dict, name: str, x):
    """The bare 2-hidden-layer MLP ``name`` (``name.0``, ``name.2``, ``name.4``) of the parameters ``p``."""
    for i in (0, 2):
        x = torch.relu(F.linear(x, p[f"{name}.{i}.weight"], p[f"{name}.{i}.bias"]))
    return F.linear(x, p[f"{name}.4.weight"], p[f"{name}.4.bias"])


def per_agent(p: dict, name: str, x):
    """One call of the bare MLP per agent with its one-hot id appended, as the authors' loops do."""
    n = x.shape[-2]
    outs = [mlp(p, name, torch.cat([x[:, i], torch.eye(n)[i].expand(x.shape[0], n)], -1)) for i in range(n)]
    return torch.stack(outs, 1)


def mixer_params(p: dict, name: str, state):
    """The code's MixNet: one hidden layer feeding |W| and b."""
    h = torch.relu(F.linear(state, p[f"{name}.trunk.0.weight"], p[f"{name}.trunk.0.bias"]))
    w = F.linear(h, p[f"{name}.head_w1.weight"], p[f"{name}.head_w1.bias"]).abs()
    return w, F.linear(h, p[f"{name}.head_b1.weight"], p[f"{name}.head_b1.bias"]).squeeze(-1)


def reference_update(params: dict, b, discrete, alpha=10.0, gamma=0.99, tau=0.005, lr=1e-4, clip=1.0):
    """One update of the authors' Trainer.update on torch copies of the learner's parameters
    (numpy arrays named as the learner names them); the batch's fields as numpy arrays.
    Returns the losses and the parameters after the update."""
    p = {k: torch.tensor(np.array(v), requires_grad=True) for k, v in params.items()}
    b = {k: torch.from_numpy(v) for k, v in b.items()}
    of = lambda prefix: [v for k, v in p.items() if k.startswith(prefix + ".")]
    adam = lambda ps: torch.optim.Adam(ps, lr=lr)
    q_mixer = of("q") + of("mixer")
    opt_q, opt_v, opt_pi = adam(q_mixer), adam(of("nu")), adam(of("actor"))
    opt_lv, opt_le = adam([p["lambda_v"]]), adam([p["lambda_e"]])
    lam_v, lam_e = p["lambda_v"], p["lambda_e"]
    if discrete:
        rewards, dones = b["reward_to_go"], torch.maximum(b["done"], b["episode_end"])
        actions = b["actions"].long()
        q_of = lambda net: per_agent(p, f"{net}.net.net", b["obs"]).gather(
            -1, actions.unsqueeze(-1)).squeeze(-1)
    else:
        rewards, dones = b["reward"], b["done"]
        actions = b["actions"] / 4.0
        q_of = lambda net: per_agent(p, f"{net}.net.net", torch.cat([b["obs"], actions], -1)).squeeze(-1)

    q = q_of("q")
    w, bias = mixer_params(p, "mixer", b["state"])
    q_tot = (w * q).sum(-1) + bias
    with torch.no_grad():
        wn, bn = mixer_params(p, "mixer_target", b["next_state"])
        next_v = per_agent(p, "nu_target.net", b["next_obs"]).squeeze(-1)
        target = rewards + gamma * (1 - dones) * ((wn * next_v).sum(-1) + bn)
    q_loss = F.mse_loss(q_tot, target)
    opt_q.zero_grad()
    q_loss.backward()
    torch.nn.utils.clip_grad_norm_(q_mixer, clip)
    opt_q.step()

    with torch.no_grad():
        q_fixed = q_of("q") if discrete else q.detach()
        w, _ = mixer_params(p, "mixer", b["state"])
    v = per_agent(p, "nu.net", b["obs"]).squeeze(-1)
    e_v = w * (q_fixed - v)
    pre = (e_v - lam_v) / alpha
    w_v, f_w_v = r_fn(pre), g_fn(pre).detach()
    e_v = e_v.detach()
    init = v[b["is_init"]]
    v_loss = ((1 - gamma) * init.mean() if len(init) else 0.0) + (-alpha * f_w_v).mean() \
        + (w_v * (e_v - lam_v)).mean() + lam_v
    opt_v.zero_grad()
    opt_lv.zero_grad()
    v_loss.backward()
    torch.nn.utils.clip_grad_norm_(of("nu"), clip)
    opt_v.step()
    opt_lv.step()

    with torch.no_grad():
        wt, _ = mixer_params(p, "mixer_target", b["state"])
        pre_e = (wt * (q_of("q_target") - v) - lam_e) / alpha
        w_e, f_w_e = r_fn(pre_e), g_fn(pre_e)
        weight = (w_e.clamp_max(2) if discrete else w_e).sum(-1, keepdim=True)
    lam_e_loss = (-alpha * f_w_e + w_e * (e_v - lam_e) + lam_e).mean()
    opt_le.zero_grad()
    lam_e_loss.backward()
    opt_le.step()

    if discrete:
        logits = per_agent(p, "actor.net", b["obs"]) + torch.log(b["avail"].float())
        log_p = torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    else:
        mean_logstd = per_agent(p, "actor.body.net", b["obs"])
        mean, log_std = mean_logstd.chunk(2, -1)
        std = log_std.clamp(-5, 2).exp()
        a = actions.clamp(-1 + 1e-6, 1 - 1e-6)
        log_p = (torch.distributions.Normal(mean, std).log_prob(torch.atanh(a))
                 - torch.log(1 - a.pow(2) + 1e-6)).sum(-1)
    pi_loss = -(weight * log_p).mean()
    opt_pi.zero_grad()
    pi_loss.backward()
    torch.nn.utils.clip_grad_norm_(of("actor"), clip)
    opt_pi.step()

    with torch.no_grad():  # Polyak averaging of the targets
        for tgt, src in (("q_target", "q"), ("nu_target", "nu"), ("mixer_target", "mixer")):
            for k in [k for k in p if k.startswith(tgt + ".")]:
                p[k].copy_(tau * p[src + k[len(tgt):]] + (1 - tau) * p[k])
    losses = {"q_loss": q_loss.item(), "v_loss": float(v_loss.detach()), "pi_loss": pi_loss.item()}
    return losses, {k: v.detach().numpy() for k, v in p.items()}


@pytest.mark.parametrize("problem,discrete", [(chain, True), (bandit, False)])
def test_authors_update_equals_the_reference_written_from_their_code(problem, discrete, hp=None):
    ds = problem()
    learner = make("ComaDICE", spec_from_dataset(ds), {"hidden": 32, **(hp or {})})
    state = learner.init(jax.random.PRNGKey(0))
    # perturb the targets so the test sees which copy each step reads
    params, key = dict(state.params), jax.random.PRNGKey(1)
    for k in [k for k in params if k.startswith(("q_target.", "mixer_target."))]:
        key, sub = jax.random.split(key)
        params[k] = params[k] + 0.05 * jax.random.normal(sub, params[k].shape)
    state = state._replace(params=params)
    batch = batch_arrays(sample_batch(device_data(ds), jax.random.PRNGKey(2), 64))
    if discrete:
        batch["is_init"][:3] = True  # make sure the initial-state term is exercised
    new_state, got = jax.jit(lambda s, b: learner.step(s, b, Draws(key)))(state, jax_batch(batch))
    want, ref_params = reference_update({k: np.asarray(v) for k, v in params.items()}, batch, discrete)
    for k in ("q_loss", "v_loss", "pi_loss"):
        assert float(got[k]) == pytest.approx(want[k], rel=1e-5, abs=1e-6), k
    assert set(new_state.params) == set(ref_params)
    for name, p in new_state.params.items():
        np.testing.assert_allclose(np.asarray(p), ref_params[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert float(new_state.params["lambda_e"]) != 0.0 and float(new_state.params["lambda_v"]) != 0.0


def _fit_chain(formulation, updates):
    ds = chain()
    data = device_data(ds)
    learner = make("ComaDICE", spec_from_dataset(ds), {"hidden": 32, "formulation": formulation, "gamma": 0.9,
                                                        "alpha": 1.0, "lr": 1e-3})

    def step(state, key):
        state, _ = learner.step(state, sample_batch(data, key, 128), Draws(key))
        return state, None

    fit = jax.jit(lambda state, keys: jax.lax.scan(step, state, keys)[0])
    state = fit(learner.init(jax.random.PRNGKey(0)), jax.random.split(jax.random.PRNGKey(1), updates))
    rows = jnp.arange(data.size)
    full = batch_at(data, rows, data.init_index[rows % data.init_index.shape[0]])
    return (float(learner.occupancy_ratio(state.params, full).mean()),
            float(learner.nu_tot(state.params, full.obs, full.state).mean()))


def test_paper_formulation_drifts_to_the_fixed_point_analysis():
    # E_D[w] -> 1 - gamma = 0.1 and nu grows past anything the rewards allow (returns <= 5)
    w_mean, nu_tot = _fit_chain("paper", 1000)
    assert w_mean < 0.3
    assert nu_tot > 3 * 5


def test_sound_formulation_has_a_finite_fixed_point():
    w_mean, nu_tot = _fit_chain("sound", 1000)
    assert abs(w_mean - 1.0) < 0.15
    assert abs(nu_tot) < 1 / (1 - 0.9)


def test_formulation_and_its_options_are_validated():
    ds = matrix_game(n=16)
    with pytest.raises(ValueError, match="unknown ComaDICE formulation 'paperish'; valid: authors, paper, sound"):
        make("ComaDICE", spec_from_dataset(ds), {"formulation": "paperish"})
    learner = make("ComaDICE", spec_from_dataset(ds), {})
    cfg = learner.cfg  # the formulation's defaults are resolved for the action type, and recorded
    assert (cfg.formulation, cfg.lr, cfg.reward_to_go, cfg.done_at_episode_end, cfg.bc_weight_clip) == \
        ("authors", 1e-4, True, True, 2.0)
    cont = make("ComaDICE", spec_from_dataset(bandit(n=16)), {}).cfg
    assert (cont.reward_to_go, cont.action_scale, cont.bc_weight_clip) == (False, 4.0, float("inf"))
    paper = make("ComaDICE", spec_from_dataset(ds), {"formulation": "paper"}).cfg
    assert (paper.reward_to_go, paper.done_at_episode_end, paper.mixer_shared_trunk) == (False, False, False)


@pytest.mark.parametrize("hp", [{"bc_weight_clip": 0.5}, {"alpha": 9.0}, {"reward_to_go": False}])
def test_the_equivalence_test_sees_a_changed_update(hp):
    # the reference above is fixed to the authors' settings: any change of the learner's fails it
    with pytest.raises(AssertionError):
        test_authors_update_equals_the_reference_written_from_their_code(chain, True, hp)

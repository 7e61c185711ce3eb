"""Speed of ComaDICE updates (and of batched SMAX evaluation) against naive references.

    python benchmarks/bench_updates.py [--updates 200] [--threads 1] [--device cpu]

Fast path (what the harness does): every agent through each network in one batched
call, the dataset in tensors on the device with batches drawn by index, no loss
pulled to the host per step.
Naive reference, same run, same learner and losses: a Python loop over agents for every
network call, each batch built item by item from numpy arrays, every loss pulled to the
host (``.item()``) every step.
Sizes: SMACv1 5m_vs_6m (5 agents, obs 140, state 132, 11 actions) and MaMuJoCo Hopper 3x1
(3 agents, obs 14 = state + agent id as the authors' environment gives it, state 11,
1 action), batch 128, hidden 256 (paper defaults).  Each of ComaDICE's formulations
(authors, the default; paper; sound) is timed, with the authors / paper speed ratio.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from algorithms import make
from algorithms.base import Batch, LearnerSpec
from envs.dataset import OfflineDataset
from envs.registry import get_task
from harness.data import TensorData


def synthetic_dataset(spec: LearnerSpec, T: int = 20_000, episode_len: int = 25, seed: int = 0) -> OfflineDataset:
    rng = np.random.default_rng(seed)
    N, O, S, A = spec.n_agents, spec.obs_dim, spec.state_dim, spec.action_dim
    E = T // episode_len
    start = np.zeros(T, bool)
    start[::episode_len] = True
    term = np.zeros(T, bool)
    term[episode_len - 1::episode_len] = True
    if spec.discrete:
        actions = rng.integers(0, A, (T, N))
        avail, final_avail = np.ones((T, N, A), bool), np.ones((E, N, A), bool)
    else:
        actions = rng.uniform(-1, 1, (T, N, A)).astype(np.float32)
        avail = final_avail = None
    return OfflineDataset(
        obs=rng.normal(size=(T, N, O)).astype(np.float32), state=rng.normal(size=(T, S)).astype(np.float32),
        actions=actions, reward=rng.normal(size=T).astype(np.float32), terminated=term,
        truncated=np.zeros(T, bool), episode_start=start,
        final_obs=rng.normal(size=(E, N, O)).astype(np.float32), final_state=rng.normal(size=(E, S)).astype(np.float32),
        avail=avail, final_avail=final_avail,
        meta={"suite": "bench", "task": "bench", "quality": "x", "backend": "none",
              "action_type": spec.action_type})


def loop_over_agents(module):
    """Make an AgentMLP run one agent at a time (the naive reference)."""
    inner = module.net

    def forward(x):
        outs = []
        for i in range(module.n_agents):
            ids = module.agent_ids[i].expand(*x.shape[:-2], module.n_agents)
            outs.append(inner(torch.cat([x[..., i, :], ids], -1)))
        return torch.stack(outs, dim=-2)

    module.forward = forward


def naive_learner(name, spec, hp):
    from algorithms.networks import AgentMLP

    learner = make(name, spec, hp)
    for m in learner.modules():
        if isinstance(m, AgentMLP):
            loop_over_agents(m)
    return learner


def naive_batch(ds: OfflineDataset, nxt: np.ndarray, starts: np.ndarray, rng, B: int) -> Batch:
    """Items gathered one by one in Python, then stacked and converted."""
    obs_all = np.concatenate([ds.obs, ds.final_obs])
    state_all = np.concatenate([ds.state, ds.final_state])
    avail_all = np.concatenate([ds.avail, ds.final_avail]) if ds.discrete else None
    items = []
    for i in rng.integers(0, ds.n_transitions, B):
        j = nxt[i]
        s0 = starts[rng.integers(len(starts))]
        items.append((obs_all[i], state_all[i], ds.actions[i], ds.reward[i], float(ds.terminated[i]),
                      obs_all[j], state_all[j], None if avail_all is None else avail_all[i],
                      None if avail_all is None else avail_all[j], obs_all[s0], state_all[s0],
                      bool(ds.episode_start[i]), float(j >= ds.n_transitions)))
    col = lambda k: torch.as_tensor(np.stack([it[k] for it in items]))
    return Batch(obs=col(0), state=col(1), actions=col(2), reward=col(3).float(), done=col(4).float(),
                 next_obs=col(5), next_state=col(6), avail=None if avail_all is None else col(7),
                 next_avail=None if avail_all is None else col(8), reward_to_go=col(3).float(),
                 init_obs=col(9), init_state=col(10), is_init=col(11), episode_end=col(12).float())


def time_updates(step, n: int, repeats: int = 3) -> float:
    """Updates per second: the best of ``repeats`` timings of ``n`` steps after a warm-up (the
    best is the least disturbed by other processes of the machine)."""
    for _ in range(5):
        step()
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            step()
        best = max(best, n / (time.perf_counter() - t))
    return best


def bench_updates(label, spec, n_updates, device, formulation="authors"):
    hp = {"hidden": 256, "formulation": formulation}
    ds = synthetic_dataset(spec)
    torch.manual_seed(0)
    fast = make("ComaDICE", spec, hp, device)
    data = TensorData(ds, device)
    fast_ups = time_updates(lambda: fast.update(data.sample(128)), n_updates)
    torch.manual_seed(0)
    naive = naive_learner("ComaDICE", spec, hp)
    rng = np.random.default_rng(0)
    nxt, starts = ds.next_index(), np.flatnonzero(ds.episode_start)

    def naive_step():
        m = naive.update(naive_batch(ds, nxt, starts, rng, 128))
        return {k: v.item() for k, v in m.items()}

    naive_ups = time_updates(naive_step, max(20, n_updates // 4))
    print(f"{label + ', ' + formulation:<36} fast {fast_ups:8.1f} updates/s   naive {naive_ups:8.1f} updates/s   "
          f"ratio {fast_ups / naive_ups:5.2f}x")
    return fast_ups, naive_ups


def bench_eval(episodes: int = 32):
    from envs.simulators import evaluate, make_vector_env

    task = get_task("5m_vs_6m")
    rng = np.random.default_rng(0)

    def policy(obs, avail):
        return (rng.random(avail.shape) * avail).argmax(-1)

    batched = make_vector_env(task, episodes, seed=0)
    batched.warm_up()
    single = make_vector_env(task, 1, seed=0)
    single.warm_up()
    t = time.perf_counter()
    evaluate(task, policy, episodes, venv=batched)
    t_batched = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(episodes):
        evaluate(task, policy, 1, venv=single)
    t_single = time.perf_counter() - t
    print(f"{'SMAX eval, 32 episodes':<28} batched {t_batched:6.2f} s   one at a time {t_single:6.2f} s   "
          f"ratio {t_single / t_batched:5.2f}x")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--updates", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--skip-eval", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}")
    # the default (authors) formulation beside the paper's: the former must not be slower
    for label, spec in (("ComaDICE, 5m_vs_6m size", LearnerSpec(5, 140, 132, 11, "discrete")),
                        ("ComaDICE, Hopper 3x1 size", LearnerSpec(3, 14, 11, 1, "continuous"))):
        speed = {f: bench_updates(label, spec, args.updates, args.device, f)[0] for f in ("authors", "paper", "sound")}
        print(f"{label:<36} authors / paper speed: {speed['authors'] / speed['paper']:.2f}x")
    if not args.skip_eval:
        bench_eval()


if __name__ == "__main__":
    main()

"""Record the learners' update trajectories as fixtures (``tests/data/learner_fixtures/*.npz``).

Written and run on main a46ae27, where every learner was an eager PyTorch module (the code
checked against the authors'), before the learners moved to the compiled engine.  Each fixture
holds, for one learner and action type at a small size:

    init/<param>      every tensor of the learner's state_dict before the first update
    batch/<k>/<field> the 50 minibatches of the recorded run (synthetic, all Batch fields)
    noise/<k>/<j>     the random numbers update k drew, in call order (normal, uniform,
                      categorical and multinomial draws), so a port can replay them
    metrics/<name>    the metric each update returned, [50]
    final32/<param>   the state_dict after 50 updates in float32
    gap64/<param>     max |final32 - final64| of that tensor, final64 being the same 50 updates in
                      float64 from the same initial weights, batches and draws: the float32
                      rounding of this run, the yardstick of the engine's tolerance
    meta              JSON: learner, action type, spec, hyperparameters, batch size

It needs the PyTorch learners, so it runs only at that revision::

    git checkout a46ae27 -- algorithms && python tests/record_learner_fixtures.py
"""
from __future__ import annotations

import json
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).parent / "data" / "learner_fixtures"
N_UPDATES = 50
BATCH = 8
SPECS = {"discrete": dict(n_agents=3, obs_dim=7, state_dim=10, action_dim=5, action_type="discrete"),
         "continuous": dict(n_agents=3, obs_dim=7, state_dim=10, action_dim=2, action_type="continuous")}
SMALL = {"hidden": 32}

#: (fixture name, learner, action types, hyperparameters beyond SMALL)
CASES = [
    ("BC", "BC", ("discrete", "continuous"), {}),
    ("BCQ", "BCQ", ("discrete", "continuous"), {}),
    ("CQL", "CQL", ("discrete", "continuous"), {}),
    ("ICQ", "ICQ", ("discrete", "continuous"), {}),
    ("OMAR", "OMAR", ("discrete", "continuous"), {}),
    ("OMIGA", "OMIGA", ("discrete", "continuous"), {"hyper_hidden": 16}),
    ("OptDICE", "OptDICE", ("discrete", "continuous"), {}),
    ("AlberDICE", "AlberDICE", ("discrete", "continuous"), {"kl_samples": 4}),
    ("ComaDICE", "ComaDICE", ("discrete", "continuous"), {"hyper_hidden": 16}),
    ("ComaDICE-paper", "ComaDICE", ("discrete", "continuous"),
     {"hyper_hidden": 16, "formulation": "paper", "alpha": 1.0}),
    ("ComaDICE-sound", "ComaDICE", ("discrete", "continuous"),
     {"hyper_hidden": 16, "formulation": "sound", "alpha": 1.0}),
    ("ComaDICE-mixer2", "ComaDICE", ("discrete", "continuous"),
     {"hyper_hidden": 16, "mixer_layers": 2, "mixer_embed": 8}),
    ("ComaDICE-kl", "ComaDICE", ("discrete",), {"hyper_hidden": 16, "f_divergence": "kl", "alpha": 1.0}),
]


def synthetic_batches(spec: dict, n: int, seed: int) -> list:
    """``n`` minibatches with every Batch field, as numpy arrays (float32 / int64 / bool)."""
    rng = np.random.default_rng(seed)
    N, O, S, A = spec["n_agents"], spec["obs_dim"], spec["state_dim"], spec["action_dim"]
    discrete = spec["action_type"] == "discrete"
    out = []
    for _ in range(n):
        b = {}
        f = lambda *shape: rng.normal(size=shape).astype(np.float32)
        b["obs"], b["next_obs"], b["init_obs"] = f(BATCH, N, O), f(BATCH, N, O), f(BATCH, N, O)
        b["state"], b["next_state"], b["init_state"] = f(BATCH, S), f(BATCH, S), f(BATCH, S)
        if discrete:
            b["actions"] = rng.integers(0, A, (BATCH, N)).astype(np.int64)
            b["next_actions"] = rng.integers(0, A, (BATCH, N)).astype(np.int64)
            b["avail"] = rng.random((BATCH, N, A)) < 0.6
            b["avail"][np.arange(BATCH)[:, None], np.arange(N)[None], b["actions"]] = True
            b["next_avail"] = rng.random((BATCH, N, A)) < 0.6
            b["next_avail"][..., 0] = True
        else:
            b["actions"] = rng.uniform(-0.95, 0.95, (BATCH, N, A)).astype(np.float32)
            b["next_actions"] = rng.uniform(-0.95, 0.95, (BATCH, N, A)).astype(np.float32)
        b["reward"] = rng.normal(size=BATCH).astype(np.float32)
        b["reward_to_go"] = (b["reward"] * 3 + rng.normal(size=BATCH)).astype(np.float32)
        b["done"] = (rng.random(BATCH) < 0.15).astype(np.float32)
        b["episode_end"] = np.maximum(b["done"], (rng.random(BATCH) < 0.1)).astype(np.float32)
        b["is_init"] = rng.random(BATCH) < 0.2
        out.append(b)
    return out


def to_batch(b: dict, dtype):
    from algorithms.base import Batch
    t = {k: torch.from_numpy(v) for k, v in b.items()}
    t = {k: v.to(dtype) if v.is_floating_point() else v for k, v in t.items()}
    return Batch(**t)


@contextmanager
def draws(record: list = None, replay: list = None):
    """Patch torch's random draws: record every draw's value (outermost call only: Categorical's
    sample calls multinomial), or return the recorded values in order."""
    targets = [(torch, "randn"), (torch, "randn_like"), (torch, "rand"), (torch, "rand_like"),
               (torch, "multinomial"), (torch.distributions.Categorical, "sample")]
    saved = [(obj, name, getattr(obj, name)) for obj, name in targets]
    depth = [0]

    def wrap(orig, name):
        def f(*args, **kwargs):
            if replay is not None:
                value = torch.from_numpy(replay.pop(0))
                if value.is_floating_point():
                    like = args[0] if name in ("randn_like", "rand_like") else None
                    value = value.to(like.dtype if like is not None else torch.get_default_dtype())
                return value
            depth[0] += 1
            try:
                value = orig(*args, **kwargs)
            finally:
                depth[0] -= 1
            if depth[0] == 0:
                record.append(value.detach().cpu().numpy().copy())
            return value
        return f

    for obj, name, orig in saved:
        setattr(obj, name, wrap(orig, name))
    try:
        yield
    finally:
        for obj, name, orig in saved:
            setattr(obj, name, orig)


def run(algo: str, spec_kw: dict, hp: dict, batches: list, dtype, init=None, noise=None):
    from algorithms import make
    from algorithms.base import LearnerSpec

    torch.set_default_dtype(dtype)
    try:
        torch.manual_seed(0)
        learner = make(algo, LearnerSpec(**spec_kw), hp)
        if init is not None:
            learner.load_state_dict({k: torch.from_numpy(v).to(dtype) if v.dtype.kind == "f" else torch.from_numpy(v)
                                     for k, v in init.items()})
        start = {k: v.detach().cpu().numpy().copy() for k, v in learner.state_dict().items()}
        metrics, recorded = [], []
        for k, b in enumerate(batches):
            if noise is None:
                rec = []
                with draws(record=rec):
                    m = learner.update(to_batch(b, dtype))
                recorded.append(rec)
            else:
                with draws(replay=list(noise[k])):
                    m = learner.update(to_batch(b, dtype))
            metrics.append({name: float(v) for name, v in m.items()})
        final = {k: v.detach().cpu().numpy().copy() for k, v in learner.state_dict().items()}
        return start, final, metrics, recorded
    finally:
        torch.set_default_dtype(torch.float32)


def record(name: str, algo: str, action_type: str, extra: dict) -> Path:
    spec = SPECS[action_type]
    hp = {**SMALL, **extra}
    batches = synthetic_batches(spec, N_UPDATES, seed=zlib.crc32((name + action_type).encode()))
    init, final32, metrics, noise = run(algo, spec, hp, batches, torch.float32)
    _, final64, metrics64, _ = run(algo, spec, hp, batches, torch.float64, init=init, noise=noise)
    arrays = {f"init/{k}": v for k, v in init.items()}
    arrays.update({f"final32/{k}": v for k, v in final32.items()})
    arrays.update({f"gap64/{k}": np.array(float(np.abs(v.astype(np.float64) - final64[k]).max()) if v.size else 0.0)
                   for k, v in final32.items()})
    for k, b in enumerate(batches):
        arrays.update({f"batch/{k}/{f}": v for f, v in b.items()})
        arrays.update({f"noise/{k}/{j}": v for j, v in enumerate(noise[k])})
    for m in metrics[0]:
        arrays[f"metrics/{m}"] = np.array([row[m] for row in metrics], np.float64)
        arrays[f"metrics64/{m}"] = np.array([row[m] for row in metrics64], np.float64)
    meta = {"fixture": name, "algorithm": algo, "action_type": action_type, "spec": spec, "hyperparameters": hp,
            "batch_size": BATCH, "n_updates": N_UPDATES, "recorded_at": "a46ae27 (eager PyTorch learners)",
            "torch": torch.__version__}
    arrays["meta"] = np.array(json.dumps(meta))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}-{action_type}.npz"
    np.savez_compressed(path, **arrays)
    return path


if __name__ == "__main__":
    torch.set_num_threads(1)
    for name, algo, types, extra in CASES:
        for action_type in types:
            path = record(name, algo, action_type, extra)
            with np.load(path) as z:
                gap = max(float(z[k]) for k in z.files if k.startswith("gap64/"))
            print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB, float32-float64 gap {gap:.2e}")

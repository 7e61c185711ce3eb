"""Speed of the training engine against this machine's floor, per learner, size and member count.

    python benchmarks/bench_engine.py [--members 1 5 25] [--algorithms BC ComaDICE] [--updates 200]

For each learner at the 5m_vs_6m and Hopper 3x1 sizes (5 agents, obs 140, state 132, 11 actions;
3 agents, obs 9, state 11, 1 action each; batch 128, hidden 256) and each member count S, one line:

    <learner> <size> S=<S>: <member-updates/s>, floor <u/s>, of floor <x>

- member-updates/s: S members x updates per second of one engine program (``harness/engine.py``),
  measured over about ``--updates`` member-updates (``--updates / S`` updates of the program, at
  least 10) after a compiled warm-up call: the best of 5 timings, as the floor's products are
  timed (best of 3), so that a pause of this shared machine slows neither; the median of the 5
  beside it, and the warm-up call's seconds (compilation, without the persistent cache that
  training jobs use).
- floor: the member-updates/s the update's matrix products alone allow on one core: every
  ``dot_general`` of one member's update (forward and backward, read from the update's jaxpr)
  timed alone at its own shape, compiled by XLA (a loop of that product alone), summed.  (PyTorch's
  MKL products of these shapes were slower here than XLA's: a floor from them was no floor.)  ``of floor`` is the
  ratio (1.0: nothing but the matrix products, each at the speed it has alone).
- and a line per learner and size ending in ``ops ratio <x>``: the operations dispatched per
  member-update by the eager PyTorch learners of a46ae27 (``benchmarks/data/eager_ops_a46ae27.json``,
  counted with TorchDispatchMode, the minibatch's sampling included) beside the kernels the
  engine's compiled loop body runs per member-update (the instructions of the optimised HLO loop
  body that launch work: fusions, dots, custom calls, gathers, ...; divided by S).

Run it with the machine otherwise idle; one thread (``PJRT_NPROC=1`` and ``XLA_FLAGS``, set by
``configure_host``), so the rates are one core's, as the floor is.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.engine import configure_host  # noqa: E402

configure_host(threads=1, cache=False)  # compilation measured, not read from the cache

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from algorithms import available_algorithms, make  # noqa: E402
from algorithms.base import LearnerSpec  # noqa: E402
from harness.data import DeviceData  # noqa: E402
from harness.engine import make_engine, update_step  # noqa: E402

SPECS = {"5m_vs_6m": LearnerSpec(5, 140, 132, 11, "discrete"), "Hopper_3x1": LearnerSpec(3, 9, 11, 1, "continuous")}
BATCH = 128
EAGER_OPS = ROOT / "benchmarks" / "data" / "eager_ops_a46ae27.json"
#: HLO instructions that only rename or slice buffers (no kernel of their own)
FREE = {"parameter", "constant", "get-tuple-element", "tuple", "bitcast", "copy-start", "copy-done",
        "after-all", "partition-id", "replica-id"}


def synthetic_data(spec: LearnerSpec, T: int = 4000, episode: int = 50, seed: int = 0) -> DeviceData:
    rng = np.random.default_rng(seed)
    N, O, S, A = spec.n_agents, spec.obs_dim, spec.state_dim, spec.action_dim
    E = T // episode
    starts = np.zeros(T, bool)
    starts[::episode] = True
    ends = np.zeros(T, bool)
    ends[episode - 1::episode] = True
    nxt = np.arange(1, T + 1)
    nxt[ends] = T + np.arange(E)
    f = lambda *shape: jnp.asarray(rng.normal(size=shape), jnp.float32)
    if spec.discrete:
        actions = jnp.asarray(rng.integers(0, A, (T + E, N)), jnp.int32)
        avail = jnp.ones((T + E, N, A), bool)
    else:
        actions, avail = jnp.asarray(rng.uniform(-1, 1, (T + E, N, A)), jnp.float32), None
    return DeviceData(obs=f(T + E, N, O), state=f(T + E, S), actions=actions, avail=avail, reward=f(T),
                      done=jnp.asarray(ends & (rng.random(T) < 0.5), jnp.float32),
                      next_index=jnp.asarray(nxt, jnp.int32),
                      init_index=jnp.asarray(np.flatnonzero(starts), jnp.int32), is_init=jnp.asarray(starts),
                      episode_end=jnp.asarray(ends, jnp.float32), reward_to_go=f(T))


def dot_shapes(learner, state, data) -> list:
    """(batch, m, k, n) of every dot_general in one member's update (the sampling included)."""
    jaxpr = jax.make_jaxpr(lambda s: update_step(learner, s, data, BATCH))(state)
    out = []

    def walk(jx):
        for eqn in jx.eqns:
            if eqn.primitive.name == "dot_general":
                (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
                ls, rs = eqn.invars[0].aval.shape, eqn.invars[1].aval.shape
                b = int(np.prod([ls[i] for i in lb]))
                k = int(np.prod([ls[i] for i in lc]))
                m = int(np.prod([d for i, d in enumerate(ls) if i not in lc and i not in lb]))
                n = int(np.prod([d for i, d in enumerate(rs) if i not in rc and i not in rb]))
                out.append((b, m, k, n))
            for sub in jax.core.subjaxprs(eqn) if hasattr(jax.core, "subjaxprs") else _subjaxprs(eqn):
                walk(sub)
    walk(jaxpr.jaxpr)
    return out


def _subjaxprs(eqn):
    for v in eqn.params.values():
        for x in (v if isinstance(v, (list, tuple)) else [v]):
            if hasattr(x, "jaxpr") and hasattr(x.jaxpr, "eqns"):
                yield x.jaxpr
            elif hasattr(x, "eqns"):
                yield x


_gemm_cache: dict = {}


def gemm_seconds(b: int, m: int, k: int, n: int) -> float:
    """Seconds of one float32 (b x) m-by-k times k-by-n product, alone, compiled by XLA as the
    engine's own products are: ``reps`` of them in one loop, each made to depend on the last
    through a scalar added to its input (else XLA hoists the product out of the loop), best of 3."""
    key = (b, m, k, n)
    if key not in _gemm_cache:
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.normal(size=(b, m, k)), jnp.float32)
        y = jnp.asarray(rng.normal(size=(b, k, n)), jnp.float32)
        reps = max(5, int(2e8 / max(1, 2 * b * m * k * n)))

        if b == 1:  # a plain matrix product, as XLA emits an unbatched dot_general
            x, y = x[0], y[0]

        def body(_, c):
            out = (x + c) @ y
            return c + 1e-30 * out.reshape(-1)[0]
        run = jax.jit(lambda c: jax.lax.fori_loop(0, reps, body, c))
        jax.block_until_ready(run(jnp.float32(0)))
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            jax.block_until_ready(run(jnp.float32(0)))
            best = min(best, (time.perf_counter() - t) / reps)
        _gemm_cache[key] = best
    return _gemm_cache[key]


def _computations(hlo: str) -> dict:
    """Computation name -> its instructions as (opcode, line) from an optimised HLO module's text."""
    comps, current = {}, None
    for line in hlo.splitlines():
        if line.rstrip().endswith("{") and not line.startswith(" "):
            current = line.split("(")[0].replace("ENTRY", "").strip().lstrip("%")
            comps[current] = []
        elif current is not None and " = " in line:
            m = re.match(r"\s*(?:ROOT\s+)?%?[\w.\-]+ = .*?\s([a-z][\w\-]*)\(", line)
            if m:
                comps[current].append((m.group(1), line))
    return comps


def _kernels(comps: dict, name: str) -> int:
    """Kernels one execution of computation ``name`` runs: every instruction that launches work
    counts once (a fusion is one kernel); a while loop of known trip count runs its body that many
    times; calls and conditionals count what they call."""
    total = 0
    for op, line in comps.get(name, []):
        if op in FREE:
            continue
        if op in ("while", "call", "conditional"):
            called = re.findall(r"(?:body|to_apply|branch_computations=\{|calls)=?%?([\w.\-]+)", line)
            trip = re.search(r'"known_trip_count":\{"n":"(\d+)"', line)
            body = re.search(r"body=%?([\w.\-]+)", line)
            if op == "while" and body:
                total += (int(trip.group(1)) if trip else 1) * _kernels(comps, body.group(1))
            else:
                total += sum(_kernels(comps, c) for c in called)
            continue
        total += 1
    return total


def loop_kernels(engine, states, data) -> int:
    """Kernels per iteration of the compiled program's update loop (the outer while loop, whose
    trip count is the number of updates), for the program as a whole (all members)."""
    n = jax.numpy.ones((engine.n_members,), jax.numpy.int32)
    comps = _computations(engine.program.lower(states, data, n).compile().as_text())
    entry = next(iter(k for k in comps if k.startswith("main")), None) or list(comps)[-1]
    for op, line in comps[entry]:
        if op == "while" and "known_trip_count" not in line:
            return _kernels(comps, re.search(r"body=%?([\w.\-]+)", line).group(1))
    return -1


def measure(algorithm: str, size: str, members: int, updates: int) -> tuple:
    spec = SPECS[size]
    data = synthetic_data(spec)
    engine = make_engine(algorithm, spec, [{"hidden": 256}] * members, BATCH)
    states = engine.init(range(members))
    t = time.perf_counter()
    states, _ = engine.train(states, data, 2)  # compile
    jax.block_until_ready(states)
    compile_s = time.perf_counter() - t
    times, n = [], max(10, updates // members)  # about ``updates`` member-updates per timing
    for _ in range(5):
        t = time.perf_counter()
        states, m = engine.train(states, data, n)
        jax.block_until_ready(m)
        times.append(time.perf_counter() - t)
    rate, median = members * n / min(times), members * n / float(np.median(times))
    one = jax.tree_util.tree_map(lambda x: x[0], states)
    shapes = dot_shapes(engine.learner, one, data)
    floor_s = sum(gemm_seconds(*s) for s in shapes)
    gflop = sum(2 * b * m * k * n for b, m, k, n in shapes) / 1e9
    kernels = loop_kernels(engine, states, data)
    return rate, median, 1.0 / floor_s, kernels, compile_s, gflop


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, nargs="+", default=[1, 5, 25])
    ap.add_argument("--algorithms", nargs="+", default=available_algorithms())
    ap.add_argument("--sizes", nargs="+", default=list(SPECS))
    ap.add_argument("--updates", type=int, default=200)
    args = ap.parse_args(argv)
    eager = json.loads(EAGER_OPS.read_text())["ops"]
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, threads 1, batch {BATCH}, hidden 256, "
          f"PJRT_NPROC={os.environ.get('PJRT_NPROC')!r} XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
    for algorithm in args.algorithms:
        make(algorithm, SPECS["5m_vs_6m"])  # unknown names fail here
        for size in args.sizes:
            kernels_at = {}
            for S in args.members:
                rate, median, floor, kernels, compile_s, gflop = measure(algorithm, size, S, args.updates)
                kernels_at[S] = kernels / S
                print(f"{algorithm} {size} S={S}: {rate:.1f} member-updates/s (median {median:.1f}; "
                      f"compiled in {compile_s:.1f} s, "
                      f"{gflop:.2f} GFLOP of products per update), floor {floor:.1f}, of floor {rate / floor:.2f}",
                      flush=True)
            S = max(kernels_at)
            ops = eager.get(algorithm, {}).get(size)
            if ops:
                print(f"{algorithm} {size}: eager ops/update {ops} (a46ae27), engine kernels/member-update "
                      f"{kernels_at[S]:.1f} at S={S}, ops ratio {kernels_at[S] / ops:.3f}", flush=True)


if __name__ == "__main__":
    main()

"""The training engine: the members of a cell trained together as one compiled program.

The runs of one (task, quality, algorithm) share a dataset; their seeds and their hyperparameter
variants (Figure 1's alpha sweep) are *members* of one program.  Every member has its own initial
weights (from its seed), optimiser state, minibatches and random numbers (from its own key), so a
member's trajectory does not depend on which others share its program (``tests/test_engine.py``).

    engine = make_engine("ComaDICE", spec, [hp_0, hp_1, ...], batch_size=128)
    states = engine.init([seed_0, seed_1, ...])          # TrainState, every leaf [S, ...]
    states, metrics = engine.train(states, data, 1000)   # 1000 updates of every member, one call
    actions = engine.act(states.params, obs, avail)      # obs [S, E, N, O] -> [S, E, N(, A)]

As PureJaxRL's ``make_train``: the update is one pure function of the declared state
(``algorithms/base.py`` ``TrainState``), the members are a ``vmap`` of it and the updates between
two evaluations one ``fori_loop`` inside one ``jit``: a host call per evaluation, not per update.

Members may differ in seed and in any float hyperparameter (alpha, lr, ...): those values are
arrays of the program, so an alpha sweep is one program; members that differ in anything else
(a formulation, a width) are different programs (``group_members``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from algorithms import algorithm_class, make_config
from algorithms.base import Draws, LearnerSpec, TrainState, check_batch
from envs.jax_host import configure_jax
from harness.data import DeviceData, sample_batch
from harness.members import varying_fields


def configure_host(threads: int = 1, cache: bool = True) -> None:
    """JAX's settings for training in this process: ``envs/jax_host.py configure_jax`` (the
    persistent compilation cache: a run's program is compiled once per machine, not once per job;
    before JAX starts its CPU backend, ``threads`` XLA threads: one per process, the workflow runs
    one job per core), float32 products and the unrolled threefry lowering."""
    configure_jax(threads=threads, cache=cache)
    # float32 products as PyTorch's (a GPU would otherwise take TF32, ~1e-3 relative: the learners
    # were checked against their PyTorch runs in float32)
    jax.config.update("jax_default_matmul_precision", "highest")
    unroll_threefry_on_cpu()


def unroll_threefry_on_cpu() -> bool:
    """Lower the threefry generator on the CPU as JAX lowers it on GPUs: unrolled, so XLA fuses its
    20 rounds into one kernel.  JAX's CPU lowering rolls them into a loop (to compile faster),
    which ran 3/4 of a BC update's kernels here (266 -> 90 per update).  The same function: the
    bits do not change (tests/test_engine.py).  A JAX without these internals keeps its loop."""
    try:
        from jax._src.interpreters import mlir
        from jax._src.random import threefry2x32
        mlir.register_lowering(threefry2x32.threefry2x32_p, threefry2x32._threefry2x32_lowering_rule,
                               platform="cpu")
        return True
    except (ImportError, AttributeError):
        return False


def member_key(seed: int):
    """The key a member's training starts from: its seed alone decides it.  Threefry (JAX's
    default): XLA's RngBitGenerator draws other bits under ``vmap`` than alone, so a member's
    numbers would depend on its program."""
    return jax.random.PRNGKey(seed)


def update_step(learner, state: TrainState, data: DeviceData, batch_size: int):
    """One update of one member: its minibatch and its random numbers from its own key."""
    rng, k_batch, k_draws = jax.random.split(state.rng, 3)
    batch = sample_batch(data, k_batch, batch_size)
    check_batch(learner.spec, batch)  # shapes, at trace time: free in the program
    return learner.step(state._replace(rng=rng), batch, Draws(k_draws))


def fit(learner, data: DeviceData, state: TrainState, n: int, batch_size: int = 128) -> TrainState:
    """``n`` updates of one member in one compiled call (tests, small problems)."""
    def body(s, _):
        return update_step(learner, s, data, batch_size)[0], None
    return jax.jit(lambda s: jax.lax.scan(body, s, None, length=n)[0])(state)


class Engine(NamedTuple):
    """One program's functions (``make_engine``) and what it trains."""
    learner: object                 # the members' learner, its config that of member 0
    n_members: int
    init: Callable                  # seeds -> TrainState [S, ...]
    train: Callable                 # (states, data, n) -> (states, metrics {name: [S]})
    program: Callable               # the jitted program ``train`` calls (n an [S] int32 array)
    act: Callable                   # (params [S, ...], obs [S, E, N, O], avail, members) -> [S, E, ...]
    member_values: dict             # float field -> [S] values (the fields that vary)


def make_engine(algorithm: str, spec: LearnerSpec, hyperparameters: list, batch_size: int = 128) -> Engine:
    """The program training ``len(hyperparameters)`` members of ``algorithm`` (configs checked,
    and refused when they differ in more than float fields)."""
    cls = algorithm_class(algorithm)
    cfgs = [make_config(algorithm, hp) for hp in hyperparameters]
    varying = varying_fields(cfgs)
    bad = [f for f in varying if not all(isinstance(getattr(c, f), float) for c in cfgs)]
    if bad:
        raise ValueError(f"members of one {cls.name} program may differ only in float hyperparameters; "
                         f"they differ in {', '.join(bad)} (train them as separate programs: group_members)")
    values = {f: jnp.asarray([getattr(c, f) for c in cfgs], jnp.float32) for f in varying}
    template = cls(spec, cfgs[0])

    def learner_of(member_values: dict):
        """The learner of one member: member 0's config with this member's float values (traced)."""
        if not member_values:
            return template
        return cls(spec, dataclasses.replace(cfgs[0], **member_values))

    def member_train(state: TrainState, member_values: dict, data: DeviceData, n):
        learner = learner_of(member_values)
        # the metrics' structure, for the loop's carry (the last update's metrics come out)
        _, shapes = jax.eval_shape(lambda s: update_step(learner, s, data, batch_size), state)
        zeros = jax.tree_util.tree_map(lambda x: jnp.zeros(x.shape, x.dtype), shapes)

        def body(_, carry):
            s, _ = carry
            return update_step(learner, s, data, batch_size)
        return jax.lax.fori_loop(0, n, body, (state, zeros))

    def train_program(states: TrainState, data: DeviceData, n):
        if len(cfgs) == 1:
            # one member: its update as it is, without a member axis of size one, whose batched
            # products XLA ran at 0.73-0.76 of the plain ones' rate here (ComaDICE at 5m_vs_6m size)
            one = jax.tree_util.tree_map(lambda x: x[0], (states, values, n))
            out = member_train(one[0], one[1], data, one[2])
            return jax.tree_util.tree_map(lambda x: x[None], out)
        return jax.vmap(member_train, in_axes=(0, 0, None, 0))(states, values, data, n)

    compiled_train = jax.jit(train_program, donate_argnums=0)

    def train(states: TrainState, data: DeviceData, n):
        """``n`` updates of every member, or ``n [S]``: member k's own count (0 leaves it as it is)."""
        # every argument placed on the data's device: a program's arguments placed or not are two
        # programs to JAX, and the states of a first call (fresh or resumed) would compile it twice
        device = _device_of(data)
        n = jnp.broadcast_to(jnp.asarray(n, jnp.int32), (len(cfgs),))
        return compiled_train(jax.device_put(states, device), data, jax.device_put(n, device))

    # the members' initial states in one compiled call (op by op, each operation of an init would
    # be compiled on its own)
    compiled_init = jax.jit(jax.vmap(template.init))

    def init(seeds, device=None) -> TrainState:
        keys = jnp.stack([member_key(int(s)) for s in seeds])
        states = compiled_init(keys)
        # a target network starts as a copy: XLA may return both as one buffer, which ``train``
        # cannot donate twice
        states = jax.tree_util.tree_map(lambda x: jnp.array(x, copy=True), states)
        return states if device is None else jax.device_put(states, device)

    def member_act(params, member_values, obs, avail, key):
        return learner_of(member_values).act(params, obs, avail, Draws(key), deterministic=True)

    def act(params, obs, avail=None, key=None, members=None):
        """``members``: which members ``params`` hold (indices; default all, in order); ``key``: the
        random numbers of policies that draw even when deterministic (BCQ's candidates)."""
        vals = values if members is None else {f: v[jnp.asarray(members)] for f, v in values.items()}
        keys = jax.random.split(jax.random.PRNGKey(0) if key is None else key, obs.shape[0])
        return jax.vmap(member_act, in_axes=(0, 0, 0, None if avail is None else 0, 0))(params, vals, obs, avail, keys)

    return Engine(learner=template, n_members=len(cfgs), init=init, train=train, program=compiled_train,
                  act=jax.jit(act, static_argnames="members"), member_values=values)


def _device_of(data: DeviceData):
    """The device the dataset's arrays are on."""
    leaf = jax.tree_util.tree_leaves(data)[0]
    return next(iter(leaf.devices()))


def to_host(tree):
    """A pytree of device arrays as numpy arrays (for resume states and checkpoints)."""
    return jax.tree_util.tree_map(lambda x: np.asarray(x), tree)


def member(tree, k: int):
    """Member ``k``'s slice of a stacked pytree."""
    return jax.tree_util.tree_map(lambda x: x[k], tree)


def stack(trees: list):
    """Members' pytrees stacked on a leading axis (the inverse of ``member``)."""
    return jax.tree_util.tree_map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *trees)

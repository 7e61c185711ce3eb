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

The pieces: ``mappo_config`` (the settings, free of JAX), ``mappo_networks`` (flax modules),
``mappo_learner`` (the compiled update and episode rollouts), this module (the run between
compiled chunks) and ``run_file`` (the run on disk).

What was measured on 5m_vs_6m (2M env steps, training win rate at the end): the defaults
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
state (``SMAXRun``).  Nothing is exchanged with the host per step.

SMACv2's replay sample: at every chunk boundary ``record_per_point`` whole episodes are played
from fresh resets by the current (stochastic) training policy, so the recorded pool samples the
policy uniformly across the run; the dataset draws its trajectories from that pool
(``behaviour.smac_like.datasets``).  These episodes are not training steps and are not counted in
``env_steps``.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from behaviour.smac_like.mappo_config import SMAXMAPPOConfig, run_sizes
from behaviour.smac_like.mappo_learner import SMAXMAPPO, episodes_from_rollout
from envs.smax_backend import jax, jnp  # JAX configured by the entry point (envs/jax_host.py)
from envs.spec import TaskSpec


def _to_numpy(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def _from_numpy(template, leaves):
    """``leaves`` put into ``template``'s structure; a different number of leaves, or a leaf of
    another shape or dtype (a state saved by other code or sizes), is refused here rather than
    failing, or silently recompiling, inside the compiled update."""
    want = jax.tree_util.tree_leaves(template)
    if len(leaves) != len(want):
        raise ValueError(f"{len(leaves)} arrays, the learner has {len(want)}")
    for i, (x, w) in enumerate(zip(leaves, want, strict=False)):
        x = np.asarray(x)
        if x.shape != tuple(w.shape) or x.dtype != w.dtype:
            raise ValueError(f"array {i} is {x.dtype}{list(x.shape)}, the learner's is {w.dtype}{list(w.shape)}")
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), [jnp.asarray(x) for x in leaves])


@dataclass
class SMAXRun:
    """What a run changes as it goes, between its compiled chunks (a resume file keeps all of it):
    the compiled state (``runner``), the evaluation and recording keys, the checkpoints, curve and
    recorded episodes so far."""
    runner: dict
    eval_key: object
    record_key: object
    checkpoints: list = field(default_factory=list)
    curve: list = field(default_factory=list)
    episodes: list = field(default_factory=list)
    t0: float = field(default_factory=time.perf_counter)


def _new_run(learner: SMAXMAPPO, seed: int) -> SMAXRun:
    return SMAXRun(learner.init(jax.random.PRNGKey(seed)), jax.random.PRNGKey(seed + 1), jax.random.PRNGKey(seed + 2))


def _resume(learner: SMAXMAPPO, run: SMAXRun, seed: int, resume_file, fingerprint: dict, log) -> tuple:
    """(run, chunk to continue after): the saved state, or, where there is none or it does not fit,
    a fresh run from chunk 0 (a misfit set aside, saying why)."""
    from envs.resume import load_resume, set_aside
    saved = load_resume(resume_file, fingerprint, log)
    if saved is None:
        return run, 0
    try:
        run.runner = _from_numpy(run.runner, saved["runner"])
        start, run.checkpoints = int(saved["chunk"]), list(saved["checkpoints"])
        run.curve, run.episodes = list(saved["curve"]), list(saved["episodes"])
        run.eval_key, run.record_key = jnp.asarray(saved["eval_key"]), jnp.asarray(saved["record_key"])
        run.t0 -= float(saved["wall_s"])
    except Exception as exc:  # noqa: BLE001 - loads, but does not fit this run: start clean
        set_aside(resume_file, f"resume state does not fit the run ({type(exc).__name__}: "
                               f"{str(exc)[:300]})", log)
        return _new_run(learner, seed), 0
    return run, start


def curve_point(learner: SMAXMAPPO, run: SMAXRun, chunk: int, per_chunk: int, train_stats, record_per_point: int,
                log) -> None:
    """A chunk boundary: evaluate the current policy (a checkpoint and a curve point, with the
    training episodes' statistics ``train_stats``: ended, won, return sum) and, after the first,
    record ``record_per_point`` episodes of the training policy."""
    cfg, total = learner.cfg, learner.total_updates
    steps_per_update = cfg.num_envs * cfg.rollout_steps
    run.eval_key, k = jax.random.split(run.eval_key)
    res = learner.rollout(run.runner["actor"], k, cfg.eval_episodes, False)
    wins, rets = np.asarray(res["wins"]), np.asarray(res["returns"])
    it = chunk * per_chunk
    ended, won, ret_sum = (float(x) for x in np.asarray(train_stats))
    run.checkpoints.append({"iteration": it, "env_steps": it * steps_per_update, "win_rate": float(wins.mean()),
                            "return_mean": float(rets.mean()), "returns": rets.astype(np.float32),
                            "actor": _to_numpy(run.runner["actor"])})
    run.curve.append({"iteration": it, "env_steps": it * steps_per_update, "wall_s": time.perf_counter() - run.t0,
                      "win_rate": float(wins.mean()), "return_mean": float(rets.mean()),
                      "train_episodes": int(ended), "train_win_rate": won / ended if ended else float("nan"),
                      "train_return_mean": ret_sum / ended if ended else float("nan")})
    if record_per_point and chunk > 0:
        run.record_key, k = jax.random.split(run.record_key)
        out = learner.rollout(run.runner["actor"], k, record_per_point, True)
        run.episodes.extend(episodes_from_rollout(out, iteration=it))
    log(f"[MAPPO-JAX {learner.task.name}] update {it}/{total}, {it * steps_per_update} env steps, "
        f"{time.perf_counter() - run.t0:.0f} s: eval win rate {wins.mean():.3f}, return {rets.mean():.3f}; "
        f"training episodes {int(ended)}, won {won / max(ended, 1):.3f}")


def _save(run: SMAXRun, chunk: int, resume_file, fingerprint: dict) -> None:
    from envs.resume import save_resume
    save_resume(resume_file, fingerprint, {
        "chunk": chunk, "runner": _to_numpy(run.runner), "checkpoints": run.checkpoints, "curve": run.curve,
        "episodes": run.episodes, "eval_key": np.asarray(run.eval_key), "record_key": np.asarray(run.record_key),
        "wall_s": time.perf_counter() - run.t0})


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
    record_per_point = math.ceil(record_episodes / n_chunks) if record_episodes > 0 else 0
    run, start = _new_run(learner, seed), 0
    fingerprint = {"kind": "smax_mappo_jax", "task": task.id, "env_steps": env_steps, "seed": seed,
                   "record_episodes": record_episodes, **{f"cfg.{k}": v for k, v in asdict(cfg).items()}}
    if resume_file is not None:
        run, start = _resume(learner, run, seed, resume_file, fingerprint, log)
        if start:
            log(f"[MAPPO-JAX {task.name}] resumed at chunk {start} of {n_chunks} from {resume_file}")
    if start == 0:
        curve_point(learner, run, 0, per_chunk, np.zeros(3), record_per_point, log)
    for chunk in range(start + 1, n_chunks + 1):
        run.runner, stats = learner.train_chunk(run.runner, per_chunk)
        curve_point(learner, run, chunk, per_chunk, stats, record_per_point, log)
        if resume_file is not None and chunk < n_chunks:
            _save(run, chunk, resume_file, fingerprint)
    if resume_file is not None and not keep_resume:
        from envs.resume import discard_resume
        discard_resume(resume_file)
    return {"kind": "smax_mappo_jax", "task": task.name, "task_id": task.id, "config": asdict(cfg), "seed": seed,
            "checkpoints": run.checkpoints, "curve": run.curve, "episodes": run.episodes,
            "env_steps": per_chunk * n_chunks * cfg.num_envs * cfg.rollout_steps,
            "updates": per_chunk * n_chunks, "record_per_point": record_per_point,
            "wall_s": time.perf_counter() - run.t0}


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

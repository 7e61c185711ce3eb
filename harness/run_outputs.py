"""What a run leaves behind, for the training loop (``harness/train.py``): its evaluations (every
member's policy in one batched simulator call, each member's rows of the curve), its final
evaluation and its files (curve.csv, checkpoint.pt, timing.json, TensorBoard events and, last,
metrics.json; the run directory's and metrics.json's schemas are in ``harness/train.py``)."""
from __future__ import annotations

import csv
import io
import json
import math
import time
from pathlib import Path

import jax
import numpy as np
import torch

from envs.files import atomic_write_bytes, atomic_write_text
from envs.simulators import evaluate, make_vector_env
from harness.engine import stack, to_host

# ``run`` below is the training loop's ``harness.train.Run`` (what a program's members share), ``m``
# its ``Member`` (one run's directory and progress), ``k`` the member's index in the program

METRICS_SCHEMA_VERSION = 2


def curve_csv(curve: list) -> str:
    buf = io.StringIO()
    fields = list(dict.fromkeys(k for row in curve for k in row))
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(curve)
    return buf.getvalue()


def tensorboard_writer(out_dir: Path, log):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # noqa: BLE001 - tensorboard is optional
        return None
    try:
        return SummaryWriter(str(out_dir / "tb"))
    except Exception as exc:  # noqa: BLE001
        log(f"TensorBoard events not written: {exc}")
        return None



def member_policy(run, params, n_members: int, members=None):
    """``policy(obs [S*E, N, O], avail)`` of every member at once: member k plays episodes
    k*E .. (k+1)*E - 1 of the shared evaluation environment."""
    calls = iter(range(1 << 62))

    def policy(obs, avail):
        key = jax.random.PRNGKey(next(calls))  # each step's draws (BCQ's candidates) its own
        shape = (n_members, -1) + obs.shape[1:]
        o = jax.numpy.asarray(obs, jax.numpy.float32).reshape(shape)
        a = None if avail is None else jax.numpy.asarray(avail, bool).reshape((n_members, -1) + avail.shape[1:])
        actions = np.asarray(run.engine.act(params, o, a, key, members))
        actions = actions.reshape((-1,) + actions.shape[2:])
        # a diverged member's NaN actions must not reach the simulator
        return actions if actions.dtype.kind in "iu" else np.nan_to_num(actions)
    return policy


#: the per-episode arrays of an evaluation result behind its figures


#: the per-episode arrays of an evaluation result behind its figures
_PER_EPISODE = {"win_rate": "wins", "return_mean": "returns"}


def member_results(res: dict, k: int, n_members: int, columns: list) -> dict:
    """Member ``k``'s evaluation from the shared one: its block of the per-episode arrays."""
    if n_members == 1:
        return res
    out = {}
    for c in columns:
        arr = res.get(_PER_EPISODE.get(c, ""))
        if arr is None:
            out[c] = math.nan
            continue
        block = np.asarray(arr).reshape(n_members, -1)[k]
        out[c] = float(block.mean()) if c != "win_rate" or not np.isnan(res.get(c, 0.0)) else math.nan
    return out


def evaluate_members(run, members: list, states, evaluated: list, n_members: int) -> None:
    """One batched evaluation of every member's policy; the curve rows (metrics and losses) of the
    members in ``evaluated``, their TensorBoard scalars and progress log lines."""
    t_eval = time.perf_counter()
    res = evaluate(run.task, member_policy(run, states.params, n_members), run.cfg.eval_episodes * n_members,
                   venv=run.venv)
    dt = time.perf_counter() - t_eval
    for k, m, losses in evaluated:
        m.eval_s += dt / len(evaluated)
        mres = member_results(res, k, n_members, run.columns)
        row = {"step": m.step, **{c: float(mres.get(c, math.nan)) for c in run.columns}, **losses}
        m.curve.append(row)
        if m.tb is not None:
            for name, v in row.items():
                if name != "step" and math.isfinite(v):
                    m.tb.add_scalar(name, v, m.step)
        elapsed = time.perf_counter() - m.t0
        done = (m.step - m.start_step) / max(1, run.n_updates - m.start_step)
        eta = elapsed * (1 - done) / max(done, 1e-9)
        run.log(f"{m.label} step {m.step}/{run.n_updates} ({100 * m.step / run.n_updates:.0f}%), {elapsed:.0f} s, "
                f"~{eta:.0f} s left: " + ", ".join(f"{name}={v:.4g}" for name, v in row.items() if name != "step"))


def write_results(run, m, k: int, params, hooks) -> None:
    """curve.csv, checkpoint.pt, the final evaluation, timing.json, ``hooks.before_metrics`` and,
    last, metrics.json; then the resume state goes."""
    if m.tb is not None:
        m.tb.close()
    atomic_write_text(m.out_dir / "curve.csv", curve_csv(m.curve))
    # through a buffer: torch.save names its archive after the file, and the temporary
    # file's random name would make two identical checkpoints differ
    buf = io.BytesIO()
    torch.save({k: torch.from_numpy(np.array(v)) for k, v in sorted(to_host(params).items())}, buf)
    atomic_write_bytes(m.out_dir / "checkpoint.pt", buf.getvalue())

    metrics = run_metrics(run, m, k, params)
    timing = {"wall_s": time.perf_counter() - m.t0, "train_s": m.train_s, "eval_s": m.eval_s,
              "updates_per_s": (m.step - m.start_step) / max(m.train_s, 1e-9), "resumed_at_step": m.start_step}
    atomic_write_text(m.out_dir / "timing.json", json.dumps(timing, indent=2))
    if hooks.before_metrics is not None:
        hooks.before_metrics(metrics)
    atomic_write_text(m.out_dir / "metrics.json", json.dumps(metrics, indent=2, allow_nan=True))
    m.resume_path.unlink(missing_ok=True)
    m.result = {**metrics, **timing}


def run_metrics(run, m, k: int, params) -> dict:
    """metrics.json (schema in the module docstring), the final evaluation's figures included
    (that evaluation runs here, for a run that did not diverge)."""
    cfg, task, final = m.cfg, run.task, m.curve[-1]
    metrics = {
        "schema_version": METRICS_SCHEMA_VERSION,
        "suite": task.suite, "task": task.name, "quality": run.ds.meta["quality"],
        "algorithm": m.name, "variant": cfg.variant, "seed": cfg.seed,
        "status": "ok" if m.reason is None else "diverged",
        "backend": task.backend, "approximation": task.approximation,
        "dataset_sha256": run.checksum, "dataset_grade": run.ds.meta.get("grade", "unknown"),
        "n_updates": run.n_updates, "epochs": cfg.epochs, "eval_episodes": cfg.eval_episodes,
        "n_evals": len(m.curve),
        # the paper's statistic: the last evaluation of training (never a diverged run's)
        **{c: None if m.reason else final[c] for c in run.columns},
    }
    metrics["code_version"] = m.code
    if m.reason is not None:
        metrics.update(diverged_reason=m.reason, diverged_step=final["step"])
    elif cfg.final_eval_episodes:
        fres = final_evaluation(run, cfg, stack([params]), k)
        metrics["final_eval_episodes"] = cfg.final_eval_episodes
        metrics.update({f"final_{c}": float(fres.get(c, math.nan)) for c in run.columns})
    return metrics


def final_evaluation(run, cfg, params, k: int) -> dict:
    """Member ``k``'s final evaluation: ``final_eval_episodes`` episodes played in rounds of
    ``eval_episodes`` on an environment of that size and of its own seed (the training evaluations'
    size, whose simulator program the process has compiled already), the first
    ``final_eval_episodes`` of them kept."""
    policy = member_policy(run, params, 1, members=(k,))
    n, size = cfg.final_eval_episodes, cfg.eval_episodes
    venv = make_vector_env(run.task, size, seed=20_000 + cfg.seed)
    rounds = [evaluate(run.task, policy, size, venv=venv) for _ in range(-(-n // size))]
    out = {}
    for c in run.columns:
        per_episode = [r.get(_PER_EPISODE.get(c, "")) for r in rounds]
        if all(x is not None for x in per_episode) and not any(np.isnan(r.get(c, 0.0)) for r in rounds):
            out[c] = float(np.concatenate([np.asarray(x, float) for x in per_episode])[:n].mean())
        else:  # a figure without per-episode values: the rounds' mean
            out[c] = float(np.mean([r.get(c, math.nan) for r in rounds]))
    return out

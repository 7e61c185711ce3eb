"""The one training loop every learner uses.

Offline updates on minibatches drawn by index from the on-device dataset, periodic
evaluation in the real simulator (the paper evaluates 100 times over training, 32
episodes each, and reports the last evaluation), a final checkpoint, the evaluation
curve and the final metrics.  ``metrics.json``, the file aggregation counts, appears last
and atomically: a run that dies leaves nothing that would be counted.

Run directory (``results/<profile>/runs/{suite}/{task}/{quality}/{algorithm}/{variant}/seed{seed}``)::

    config.yaml     the resolved run configuration, hyperparameters and update count included
    curve.csv       one row per evaluation: step, every metric the tables report (``envs/suites.py``
                    ``evaluation_columns``: win_rate, return_mean), the learner's losses
                    and diagnostics (ComaDICE: bc_weight_mean/max/ess, nu_tot_mean, multipliers)
    checkpoint.pt   the learner's final state_dict
    timing.json     wall-clock figures (kept out of the files above so that they are
                    reproducible bit for bit)
    resume.pt       the whole training state at the last evaluation; deleted when the run
                    ends.  Not a workflow output, so it survives a failed job: the rerun
                    resumes from it (at most one evaluation interval of work is lost).  It
                    records the run's fingerprint: the configuration and the code version
                    (``sources_sha256`` of harness/provenance.py, as in metrics.json); a state
                    of another configuration or code, or one that cannot be used (unreadable,
                    no fingerprint, tensors that do not fit the learner), is set aside as
                    ``resume.pt.unusable-<time>`` and the run restarts, saying why
    tb/             TensorBoard event files of the curve (when tensorboard is installed)
    metrics.json    written last; schema below

metrics.json (schema 2): the run's key (suite, task, quality, algorithm, variant, seed),
``status`` ("ok" or "diverged"), ``diverged_reason`` and ``diverged_step`` when diverged,
backend, approximation, dataset_sha256, dataset_grade, n_updates (and epochs when the
length came from them), eval_episodes, n_evals, win_rate and return_mean of the last
evaluation (null when diverged: a diverged run is never a number), final_* of the extra
final evaluation, code_version (harness/provenance.py).

Divergence: at every evaluation the losses must be finite, the mixed value's mean must stay
within ``VALUE_BOUND_FACTOR`` x r_max / (1 - gamma) (r_max: the largest |reward| the learner
trains on), and the BC weights must not collapse (mean below ``MIN_BC_WEIGHT_MEAN`` or
effective sample size below ``MIN_BC_WEIGHT_ESS`` of the batch).  A run that leaves these
bounds stops and is recorded as diverged with its reason.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import yaml

from algorithms import make
from envs.dataset import file_sha256, load_dataset, obs_nbytes
from envs.files import atomic_write_bytes, atomic_write_text
from envs.resume import load_resume, save_resume, set_aside
from envs.simulators import backend_version, evaluate, make_vector_env
from envs.suites import evaluation_columns
from harness.data import TensorData

METRICS_SCHEMA_VERSION = 2
RESUME_FILE = "resume.pt"

#: |nu_tot| beyond this many times r_max / (1 - gamma) cannot be a value of the data's rewards
VALUE_BOUND_FACTOR = 10.0
#: BC weights whose mean falls below this have collapsed (the paper formulation's drift)
MIN_BC_WEIGHT_MEAN = 1e-4
#: fewer effective rows than this fraction of a batch: the policy imitates a handful of rows
MIN_BC_WEIGHT_ESS = 0.02


@dataclass
class RunConfig:
    dataset: str                    # path of the HDF5 dataset
    algorithm: str                  # registry name (BC, ComaDICE, ...)
    seed: int = 0
    variant: str = "default"        # names a hyperparameter variant (e.g. alpha0.1) in the run grid
    hyperparameters: dict = field(default_factory=dict)
    n_updates: Optional[int] = None  # gradient steps; None: epochs x |D| / batch_size
    epochs: Optional[float] = None  # the authors' training length (vietbt/ComaDICE run.py)
    batch_size: int = 128           # paper: 128
    n_evals: int = 100              # evaluations over training (paper: 100)
    eval_episodes: int = 32         # episodes per evaluation (paper: 32)
    final_eval_episodes: int = 0    # extra evaluation of the last policy with more episodes (0: none)
    device: str = "auto"            # auto (CUDA when available, else CPU) | cpu | cuda | cuda:K
    threads: int = 1                # torch CPU threads
    obs_dtype: str = "auto"         # float32 | float16 | auto (float16 when observations exceed 2 GiB)
    task: Optional[str] = None      # "suite/task" the run is for: the dataset must be of it
    quality: Optional[str] = None   # the quality the run is for: the dataset must be labelled so
    simulators: dict = field(default_factory=dict)  # the config's simulators section (smac_backend,
                                    # mamujoco_obs): configures the task (envs/registry.py get_task)
    resume: bool = True             # continue from resume.pt when a previous attempt left one


@dataclass
class RunHooks:
    """Extension points of :func:`train` (tests of resuming, the workflow's ``fail_runs``).  Each
    is optional and may raise to stop the run there: the exception leaves :func:`train` and the
    run directory holds what a run that died at that point holds.

    ``after_evaluation(step, curve)``: after each evaluation of training and its resume save
    (``curve``: the rows so far, the last one of this evaluation; not to be modified).  Not
    called at a divergence.

    ``before_metrics(metrics)``: just before metrics.json is written; curve.csv, checkpoint.pt
    and timing.json are written by then and resume.pt is still there.
    """
    after_evaluation: Optional[Callable[[int, list], None]] = None
    before_metrics: Optional[Callable[[dict], None]] = None


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(requested: str, log=print) -> str:
    """``auto`` -> ``cuda`` when this torch sees a GPU, else ``cpu``; an explicit CUDA device
    without CUDA fails here, before any work, naming the fix."""
    requested = str(requested)
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {requested!r} was asked for, but this torch ({torch.__version__}) has no CUDA "
                           "device: install a CUDA build of PyTorch, or set train.device to 'auto' or 'cpu'")
    # concurrent runs on a machine with several GPUs each claim a free one (harness/devices.py)
    from harness.devices import pick_device
    device = pick_device(requested)
    if device != requested:
        log(f"device: {requested} -> {device}")
    return device


def updates_for(cfg: RunConfig, n_transitions: int) -> int:
    if cfg.n_updates is not None:
        return int(cfg.n_updates)
    if cfg.epochs is None:
        raise ValueError("a run needs n_updates or epochs")
    # the authors' loops: n_epochs * (|D| // batch_size) updates (drop_last data loader)
    return max(1, int(cfg.epochs * (n_transitions // cfg.batch_size)))


def make_policy(learner, device):
    def policy(obs, avail):
        o = torch.tensor(obs, dtype=torch.float32, device=device)
        m = None if avail is None else torch.tensor(avail, dtype=torch.bool, device=device)
        return learner.act(o, m, deterministic=True).cpu().numpy()
    return policy


def divergence(losses: dict, value_bound: float) -> Optional[str]:
    """Why a run's values left sane bounds at this evaluation, or None."""
    bad = [k for k, v in losses.items() if not math.isfinite(v)]
    if bad:
        return f"non-finite {', '.join(bad)}"
    nu = losses.get("nu_tot_mean")
    if nu is not None and abs(nu) > VALUE_BOUND_FACTOR * value_bound:
        return (f"|nu_tot_mean| = {abs(nu):.4g} exceeds {VALUE_BOUND_FACTOR:g} x r_max / (1 - gamma) "
                f"= {VALUE_BOUND_FACTOR * value_bound:.4g}")
    w = losses.get("bc_weight_mean")
    if w is not None and w < MIN_BC_WEIGHT_MEAN:
        return f"BC weights collapsed: mean {w:.3g} < {MIN_BC_WEIGHT_MEAN:g}"
    ess = losses.get("bc_weight_ess")
    if ess is not None and ess < MIN_BC_WEIGHT_ESS:
        return f"BC weights collapsed: effective sample size {ess:.3g} of the batch < {MIN_BC_WEIGHT_ESS:g}"
    return None


# -- resume state ------------------------------------------------------------------------

def _optimizers(learner) -> dict:
    return {k: v for k, v in vars(learner).items() if isinstance(v, torch.optim.Optimizer)}


def _fingerprint(resolved: dict, code: dict) -> dict:
    """What a resume state must match: everything that decides the run's numbers -- the
    configuration and the code version (the checksum of every source file the run executes,
    ``code_version`` of harness/provenance.py): a state saved by other code would finish as if
    the new code had trained it."""
    keep = ("algorithm", "seed", "variant", "hyperparameters", "n_updates", "batch_size", "n_evals",
            "eval_episodes", "final_eval_episodes", "dataset_sha256", "obs_dtype", "task", "suite", "quality")
    fp = {k: resolved.get(k) for k in keep}
    fp["code_version"] = code.get("sources_sha256") or code.get("error")
    return json.loads(json.dumps(fp, default=str))


def _code_version(algorithm: str) -> dict:
    try:
        from harness.provenance import code_version
        return code_version(algorithm)
    except Exception as exc:  # noqa: BLE001 - provenance must never lose a finished run
        return {"error": f"{type(exc).__name__}: {exc}"}


def _save_resume(path: Path, fingerprint: dict, learner, data, venv, step: int, curve: list) -> None:
    """The run's state after ``step`` updates (``envs/resume.py`` adds the global RNGs)."""
    save_resume(path, fingerprint, {
        "step": step, "curve": curve, "n_updates_done": learner.n_updates,
        "learner": learner.state_dict(),
        "optimizers": {k: o.state_dict() for k, o in _optimizers(learner).items()},
        "sampler": data.generator.get_state(),
        "env": venv.rng_state() if hasattr(venv, "rng_state") else None,
    })


def _restore(state: dict, learner, data, venv) -> None:
    """Put a loaded state back (``load_resume`` has already restored the global RNGs)."""
    learner.load_state_dict(state["learner"])
    learner.n_updates = state["n_updates_done"]
    for k, o in _optimizers(learner).items():
        o.load_state_dict(state["optimizers"][k])
    data.generator.set_state(state["sampler"])
    if state.get("env") is not None and hasattr(venv, "set_rng_state"):
        venv.set_rng_state(state["env"])


def _curve_csv(curve: list) -> str:
    buf = io.StringIO()
    fields = list(dict.fromkeys(k for row in curve for k in row))
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(curve)
    return buf.getvalue()


def _tensorboard(out_dir: Path, log):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # noqa: BLE001 - tensorboard is optional
        return None
    try:
        return SummaryWriter(str(out_dir / "tb"))
    except Exception as exc:  # noqa: BLE001
        log(f"TensorBoard events not written: {exc}")
        return None


# -- the run ------------------------------------------------------------------------------

@dataclass
class _Run:
    """A run once set up (:func:`_prepare_run`): what the loop and the results need."""
    cfg: RunConfig
    out_dir: Path
    log: Callable
    device: str
    ds: object                      # the loaded dataset (envs/dataset.py)
    checksum: str                   # of the dataset file
    task: object                    # envs/registry.py task
    data: TensorData
    learner: object
    n_updates: int
    value_bound: float              # r_max / (1 - gamma) of the rewards the learner trains on
    venv: object                    # the batched evaluation environment
    policy: Callable
    eval_every: int
    columns: list                   # every metric of the tables (envs/suites.py METRICS)
    label: str                      # the run's prefix in log lines
    resume_path: Path
    code: dict                      # code version of the code that runs now, recorded in metrics.json
    fingerprint: dict               # what a resume state must match


@dataclass
class _Progress:
    """Where training stands (:func:`_train_loop`), and its timing."""
    curve: list
    step: int
    start_step: int                 # the step this attempt started (resumed) at
    t0: float                       # perf_counter when the loop began
    reason: Optional[str] = None    # why the run diverged, None while it has not
    train_s: float = 0.0
    eval_s: float = 0.0


def train(cfg: RunConfig, out_dir, log=print, hooks: Optional[RunHooks] = None) -> dict:
    """Run ``cfg`` into ``out_dir`` (the run directory of the module docstring), resuming from the
    resume state a previous attempt left; the metrics and timing of the run."""
    hooks = hooks or RunHooks()
    run = _prepare_run(cfg, Path(out_dir), log)
    start = _resume_or_start(run)
    if start is None:  # a state that did not fit, set aside: the whole run again, from a clean process state
        return train(cfg, out_dir, log, hooks)
    progress = _train_loop(run, *start, hooks)
    return _write_results(run, progress, hooks)


def _prepare_run(cfg: RunConfig, out_dir: Path, log) -> _Run:
    """Everything before the first update: the process's threads, device and seed, the dataset
    and the learner, config.yaml, the evaluation environment and the resume fingerprint."""
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = out_dir / "metrics.json"
    if metrics_path.exists():
        metrics_path.unlink()  # a rerun never leaves an old result next to new files
    torch.set_num_threads(max(1, cfg.threads))
    device = resolve_device(cfg.device, log)
    set_seed(cfg.seed)

    ds, checksum, task = _load_run_dataset(cfg)
    data = TensorData(ds, device, seed=cfg.seed)
    learner = make(cfg.algorithm, data.spec, cfg.hyperparameters, device)
    hp = dataclasses.asdict(learner.cfg)
    n_updates = updates_for(cfg, ds.n_transitions)
    resolved = _resolved_config(cfg, ds, checksum, task, hp, n_updates, device)
    atomic_write_text(out_dir / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))
    # r_max of the rewards the learner trains on bounds any value it should reach
    rewards = data.reward_to_go if hp.get("reward_to_go") else data.reward
    gamma = hp.get("gamma", 0.99)
    value_bound = max(float(rewards.abs().max()), 1e-6) / (1.0 - gamma)

    venv = make_vector_env(task, cfg.eval_episodes, seed=10_000 + cfg.seed)
    venv.warm_up()  # simulator compilation stays out of the timed loop
    code = _code_version(learner.name)
    return _Run(cfg=cfg, out_dir=out_dir, log=log, device=device, ds=ds, checksum=checksum, task=task, data=data,
                learner=learner, n_updates=n_updates, value_bound=value_bound, venv=venv,
                policy=make_policy(learner, device), eval_every=max(1, n_updates // max(1, cfg.n_evals)),
                columns=evaluation_columns(),
                label=f"[{cfg.algorithm} {task.name} {ds.meta['quality']} {cfg.variant} seed{cfg.seed}]",
                resume_path=out_dir / RESUME_FILE, code=code, fingerprint=_fingerprint(resolved, code))


def _load_run_dataset(cfg: RunConfig):
    """The run's dataset (observations in ``cfg.obs_dtype``), its file's checksum and its task."""
    obs_dtype = {"float32": None, "float16": np.float16}.get(cfg.obs_dtype)
    if cfg.obs_dtype == "auto":
        obs_dtype = np.float16 if obs_nbytes(cfg.dataset) > (2 << 30) else None
    elif cfg.obs_dtype not in ("float32", "float16"):
        raise ValueError(f"obs_dtype must be float32, float16 or auto, got {cfg.obs_dtype!r}")
    # the loader refuses a file that does not fit the run's task (as the run's simulator settings
    # configure it: backend, observation layout) and quality, naming the file
    from envs.registry import get_task
    expect = get_task(cfg.task, simulators=cfg.simulators) if cfg.task is not None else None
    ds = load_dataset(cfg.dataset, obs_dtype=obs_dtype, expect_task=expect, expect_quality=cfg.quality)
    checksum = file_sha256(cfg.dataset)
    task = expect if expect is not None else get_task(ds.meta["task"], ds.meta["suite"], simulators=cfg.simulators)
    return ds, checksum, task


def _resolved_config(cfg: RunConfig, ds, checksum: str, task, hp: dict, n_updates: int, device: str) -> dict:
    """config.yaml: the run configuration as resolved (update count, hyperparameters, dataset,
    versions, device)."""
    from envs.registry import task_simulators
    resolved = {**dataclasses.asdict(cfg), "n_updates": n_updates, "hyperparameters": hp, "task": task.name,
                "suite": task.suite, "quality": ds.meta["quality"], "dataset_sha256": checksum,
                "n_transitions": ds.n_transitions, "backend": task.backend,
                "backend_version": backend_version(task), "torch": str(torch.__version__), "device": device}
    # the simulator settings of the task's suite that differ from the defaults (a default run's
    # config.yaml has no such key, as before the settings existed)
    resolved["simulators"] = task_simulators(cfg.simulators, task.suite)
    if not resolved["simulators"]:
        del resolved["simulators"]
    return resolved


def _resume_or_start(run: _Run) -> Optional[tuple]:
    """``(curve, step)`` to start from: those of the resume state a previous attempt left (when
    ``cfg.resume`` and the state is of this run), else ``([], 0)``.  None when a state loaded
    but did not fit the learner: it is set aside and the caller must start the whole run again."""
    state = load_resume(run.resume_path, run.fingerprint, run.log) if run.cfg.resume else None
    if state is None:
        return [], 0
    try:
        _restore(state, run.learner, run.data, run.venv)
        curve, step = list(state["curve"]), int(state["step"])
    except Exception as exc:  # noqa: BLE001 - a state that loads but does not fit this learner
        # the learner may hold half of it by now: set the file aside and start the whole run
        # again from a clean process state (the rerun finds no resume file)
        set_aside(run.resume_path, f"resume state does not fit the run ({type(exc).__name__}: "
                                   f"{str(exc).splitlines()[0][:300] if str(exc) else ''})", run.log)
        return None
    run.log(f"{run.label} resumed at step {step} ({len(curve)} evaluations done)")
    return curve, step


def _train_loop(run: _Run, curve: list, step: int, hooks: RunHooks) -> _Progress:
    """Updates from ``step`` to ``n_updates`` in chunks of ``eval_every``, each chunk followed by
    the divergence check, an evaluation, the resume save and ``hooks.after_evaluation``; stops
    early at a divergence (its row in the curve has no evaluation)."""
    cfg, n_updates = run.cfg, run.n_updates
    tb = _tensorboard(run.out_dir, run.log)
    p = _Progress(curve=curve, step=step, start_step=step, t0=time.perf_counter())
    last = {}
    while p.step < n_updates:
        t_train = time.perf_counter()
        chunk = min(run.eval_every, n_updates - p.step)
        for _ in range(chunk):
            last = run.learner.update(run.data.sample(cfg.batch_size))
        p.step += chunk
        losses = {k: float(v) for k, v in last.items()}  # one host sync per evaluation
        p.train_s += time.perf_counter() - t_train
        p.reason = divergence(losses, run.value_bound)
        if p.reason is not None:
            p.curve.append({"step": p.step, **{c: math.nan for c in run.columns}, **losses})
            run.log(f"{run.label} DIVERGED at step {p.step}: {p.reason}")
            break
        _evaluation(run, p, losses, tb)
        if p.step < n_updates and cfg.resume:
            _save_resume(run.resume_path, run.fingerprint, run.learner, run.data, run.venv, p.step, p.curve)
        if hooks.after_evaluation is not None:
            hooks.after_evaluation(p.step, p.curve)
    if tb is not None:
        tb.close()
    return p


def _evaluation(run: _Run, p: _Progress, losses: dict, tb) -> None:
    """Evaluate the policy after ``p.step`` updates: the curve's row (metrics and losses), its
    TensorBoard scalars and the progress log line."""
    t_eval = time.perf_counter()
    res = evaluate(run.task, run.policy, run.cfg.eval_episodes, venv=run.venv)
    p.eval_s += time.perf_counter() - t_eval
    row = {"step": p.step, **{c: float(res.get(c, math.nan)) for c in run.columns}, **losses}
    p.curve.append(row)
    if tb is not None:
        for k, v in row.items():
            if k != "step" and math.isfinite(v):
                tb.add_scalar(k, v, p.step)
    elapsed = time.perf_counter() - p.t0
    done = (p.step - p.start_step) / max(1, run.n_updates - p.start_step)
    eta = elapsed * (1 - done) / max(done, 1e-9)
    run.log(f"{run.label} step {p.step}/{run.n_updates} ({100 * p.step / run.n_updates:.0f}%), {elapsed:.0f} s, "
            f"~{eta:.0f} s left: " + ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "step"))


def _write_results(run: _Run, p: _Progress, hooks: RunHooks) -> dict:
    """curve.csv, checkpoint.pt, the final evaluation, timing.json, ``hooks.before_metrics`` and,
    last, metrics.json; then the resume state goes.  The metrics and timing."""
    atomic_write_text(run.out_dir / "curve.csv", _curve_csv(p.curve))
    # through a buffer: torch.save names its archive after the file, and the temporary
    # file's random name would make two identical checkpoints differ
    buf = io.BytesIO()
    torch.save(run.learner.state_dict(), buf)
    atomic_write_bytes(run.out_dir / "checkpoint.pt", buf.getvalue())

    metrics = _metrics(run, p)
    timing = {"wall_s": time.perf_counter() - p.t0, "train_s": p.train_s, "eval_s": p.eval_s,
              "updates_per_s": (p.step - p.start_step) / max(p.train_s, 1e-9), "resumed_at_step": p.start_step}
    atomic_write_text(run.out_dir / "timing.json", json.dumps(timing, indent=2))
    if hooks.before_metrics is not None:
        hooks.before_metrics(metrics)
    atomic_write_text(run.out_dir / "metrics.json", json.dumps(metrics, indent=2, allow_nan=True))
    run.resume_path.unlink(missing_ok=True)
    return {**metrics, **timing}


def _metrics(run: _Run, p: _Progress) -> dict:
    """metrics.json (schema in the module docstring), the final evaluation's figures included
    (that evaluation runs here, for a run that did not diverge)."""
    cfg, task, final = run.cfg, run.task, p.curve[-1]
    metrics = {
        "schema_version": METRICS_SCHEMA_VERSION,
        "suite": task.suite, "task": task.name, "quality": run.ds.meta["quality"],
        "algorithm": run.learner.name, "variant": cfg.variant, "seed": cfg.seed,
        "status": "ok" if p.reason is None else "diverged",
        "backend": task.backend, "approximation": task.approximation,
        "dataset_sha256": run.checksum, "dataset_grade": run.ds.meta.get("grade", "unknown"),
        "n_updates": run.n_updates, "epochs": cfg.epochs, "eval_episodes": cfg.eval_episodes,
        "n_evals": len(p.curve),
        # the paper's statistic: the last evaluation of training (never a diverged run's)
        **{c: None if p.reason else final[c] for c in run.columns},
    }
    metrics["code_version"] = run.code
    if p.reason is not None:
        metrics.update(diverged_reason=p.reason, diverged_step=final["step"])
    elif cfg.final_eval_episodes:
        fvenv = run.venv if cfg.final_eval_episodes == cfg.eval_episodes else None  # no second compile
        fres = evaluate(task, run.policy, cfg.final_eval_episodes, seed=20_000 + cfg.seed, venv=fvenv)
        metrics["final_eval_episodes"] = cfg.final_eval_episodes
        metrics.update({f"final_{c}": float(fres.get(c, math.nan)) for c in run.columns})
    return metrics

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
    checkpoint.pt   the learner's final parameters (``torch.save`` of a dict of tensors named as the
                    learners' parameters, ``algorithms/base.py``)
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
trains on), a critic's TD loss (``TD_LOSSES``) within the square of twice that bound, and the BC
weights must not collapse (mean below ``MIN_BC_WEIGHT_MEAN`` or effective sample size below
``MIN_BC_WEIGHT_ESS`` of the batch).  A run that leaves these
bounds stops and is recorded as diverged with its reason.
"""
from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import jax
import numpy as np
import torch
import yaml

from envs.dataset import file_sha256, load_dataset, obs_nbytes
from envs.files import atomic_write_text
from envs.resume import load_resume, save_resume, set_aside
from envs.simulators import ResumableVectorEnv, backend_version, make_vector_env
from envs.suites import evaluation_columns
from harness.data import DeviceData, device_data, spec_from_dataset
from harness.engine import Engine, configure_host, make_engine, member, stack, to_host
from harness.run_outputs import evaluate_members, tensorboard_writer, write_results

RESUME_FILE = "resume.pt"

#: |nu_tot| beyond this many times r_max / (1 - gamma) cannot be a value of the data's rewards
VALUE_BOUND_FACTOR = 10.0
#: the learners' TD losses (mean squared TD errors of their critics: BCQ, ICQ, OMIGA, ComaDICE
#: ``q_loss``; CQL, OMAR ``td_loss``), checked against the square of twice the value bound
TD_LOSSES = ("q_loss", "td_loss")
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
    n_updates: int | None = None  # gradient steps; None: epochs x |D| / batch_size
    epochs: float | None = None  # the authors' training length (vietbt/ComaDICE run.py)
    batch_size: int = 128           # paper: 128
    n_evals: int = 100              # evaluations over training (paper: 100)
    eval_episodes: int = 32         # episodes per evaluation (paper: 32)
    final_eval_episodes: int = 0    # extra evaluation of the last policy with more episodes (0: none)
    device: str = "auto"            # auto (CUDA when available, else CPU) | cpu | cuda | cuda:K
    threads: int = 1                # CPU threads of the process (XLA and torch)
    obs_dtype: str = "auto"         # float32 | float16 | auto (float16 when observations exceed 2 GiB)
    task: str | None = None      # "suite/task" the run is for: the dataset must be of it
    quality: str | None = None   # the quality the run is for: the dataset must be labelled so
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
    after_evaluation: Callable[[int, list], None] | None = None
    before_metrics: Callable[[dict], None] | None = None


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _gpus() -> list:
    try:
        return jax.devices("gpu")
    except RuntimeError:
        return []


def resolve_device(requested: str, log=print) -> str:
    """``auto`` -> ``cuda`` when JAX sees a GPU, else ``cpu``; an explicit CUDA device without
    one fails here, before any work, naming the fix."""
    requested = str(requested)
    if requested.startswith("cuda") and not _gpus():
        raise RuntimeError(f"device {requested!r} was asked for, but this JAX ({jax.__version__}) has no CUDA "
                           "device: install jax[cuda12] (and unset JAX_PLATFORMS=cpu), or set train.device to "
                           "'auto' or 'cpu'")
    if requested == "auto" and not _gpus():
        return "cpu"
    # concurrent runs on a machine with several GPUs each claim a free one (harness/devices.py)
    from harness.devices import pick_device
    device = pick_device(requested, n_devices=len(_gpus()))
    if device != requested:
        log(f"device: {requested} -> {device}")
    return device


def jax_device(device: str):
    """The JAX device of a resolved device name (``cpu``, ``cuda:K``)."""
    if device == "cpu":
        return jax.devices("cpu")[0]
    return _gpus()[int(device.split(":")[1]) if ":" in device else 0]


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


def divergence(losses: dict, value_bound: float) -> str | None:
    """Why a run's values left sane bounds at this evaluation, or None."""
    bad = [k for k, v in losses.items() if not math.isfinite(v)]
    if bad:
        return f"non-finite {', '.join(bad)}"
    # a TD loss is the mean square of Q - (r + gamma Q'): with both inside the value bound B it is
    # at most (2 B)^2, so a larger one means the fitted values left the bound (a critic blowing up)
    td_bound = (2 * VALUE_BOUND_FACTOR * value_bound) ** 2
    for k in TD_LOSSES:
        v = losses.get(k)
        if v is not None and v > td_bound:
            return (f"{k} = {v:.4g} exceeds (2 x {VALUE_BOUND_FACTOR:g} x r_max / (1 - gamma))^2 = {td_bound:.4g}: "
                    "the critic's values left the bound")
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


def _train_state_arrays(state) -> dict:
    """A member's TrainState as numpy arrays (a resume state holds nothing else)."""
    host = to_host(state)
    return {"params": host.params,
            "opt": {g: {"step": o.step, "m": o.m, "v": o.v} for g, o in host.opt.items()},
            "rng": host.rng.astype(np.int64), "n_updates": host.n_updates}


def _train_state_from(arrays: dict, learner, template):
    """The TrainState saved by :func:`_train_state_arrays`, checked against ``template`` (a fresh
    state of this learner): other names or shapes raise, naming the entry."""
    params = learner.params_from_state_dict(arrays["params"])
    opt = {}
    for g, o in template.opt.items():
        saved = arrays["opt"][g]
        for part in ("m", "v"):
            if set(saved[part]) != set(getattr(o, part)):
                raise ValueError(f"optimiser group {g} holds other parameters")
        opt[g] = o._replace(step=np.asarray(saved["step"], np.int32),
                            m={k: np.asarray(saved["m"][k], np.float32) for k in o.m},
                            v={k: np.asarray(saved["v"][k], np.float32) for k in o.v})
    return template._replace(params=params, opt=opt, rng=np.asarray(arrays["rng"]).astype(np.uint32),
                             n_updates=np.asarray(arrays["n_updates"], np.int32))


@dataclass
class Run:
    """What a program's members share once set up (:func:`_prepare`): the dataset, the engine,
    the evaluation environment."""
    cfg: RunConfig                  # member 0's configuration (the shared fields are equal)
    log: Callable
    device: str
    ds: object                      # the loaded dataset (envs/dataset.py)
    checksum: str                   # of the dataset file
    task: object                    # envs/registry.py task
    data: DeviceData
    engine: Engine
    n_updates: int
    value_bound: float              # r_max / (1 - gamma) of the rewards the learner trains on
    venv: object                    # the batched evaluation environment: every member's episodes
    eval_every: int
    columns: list                   # every metric of the tables (envs/suites.py METRICS)


@dataclass
class Member:
    """One run of the program: its directory, its progress, its timing."""
    cfg: RunConfig
    out_dir: Path
    label: str                      # the run's prefix in log lines
    resume_path: Path
    code: dict                      # code version of the code that runs now, recorded in metrics.json
    fingerprint: dict               # what a resume state must match
    name: str                       # the learner's name
    curve: list = field(default_factory=list)
    step: int = 0
    start_step: int = 0             # the step this attempt started (resumed) at
    reason: str | None = None    # why the run diverged, None while it has not
    train_s: float = 0.0
    eval_s: float = 0.0
    t0: float = 0.0
    tb: object = None
    result: dict | None = None   # metrics and timing, once written

    @property
    def active(self) -> bool:
        return self.result is None and self.reason is None


#: the fields of RunConfig the members of one program may differ in
MEMBER_FIELDS = ("seed", "variant", "hyperparameters", "resume")


def train(cfg: RunConfig, out_dir, log=print, hooks: RunHooks | None = None) -> dict:
    """Run ``cfg`` into ``out_dir`` (the run directory of the module docstring), resuming from the
    resume state a previous attempt left; the metrics and timing of the run."""
    return train_members([cfg], [out_dir], log, hooks)[0]


def train_members(cfgs: list, out_dirs: list, log=print, hooks: RunHooks | None = None) -> list:
    """Train the runs ``cfgs`` (one cell: the same dataset, algorithm and lengths; seeds, variants and
    float hyperparameters may differ) as the members of one program, each into its own run
    directory, each resumed from its own resume state; each member's metrics and timing."""
    hooks = hooks or RunHooks()
    _check_members(cfgs)
    run, members = _prepare(cfgs, [Path(d) for d in out_dirs], log)
    states = stack([_resume_or_start(run, m, k) for k, m in enumerate(members)])
    _train_loop(run, members, states, hooks)
    return [m.result for m in members]


def _check_members(cfgs: list) -> None:
    if not cfgs:
        raise ValueError("train_members needs at least one run")
    shared = {f.name for f in dataclasses.fields(RunConfig)} - set(MEMBER_FIELDS)
    for c in cfgs[1:]:
        diff = sorted(f for f in shared if getattr(c, f) != getattr(cfgs[0], f))
        if diff:
            raise ValueError(f"runs trained as one program must share {', '.join(diff)} "
                             f"(seed {cfgs[0].seed} and seed {c.seed} differ there)")


def _prepare(cfgs: list, out_dirs: list, log):
    """Everything before the first update: the process's threads, device and seed, the dataset and
    the engine, each member's config.yaml and resume fingerprint, the evaluation environment."""
    cfg = cfgs[0]
    configure_host(max(1, cfg.threads))
    torch.set_num_threads(max(1, cfg.threads))
    device = resolve_device(cfg.device, log)
    set_seed(cfg.seed)

    ds, checksum, task = _load_run_dataset(cfg)
    spec = spec_from_dataset(ds)
    engine = make_engine(cfg.algorithm, spec, [c.hyperparameters for c in cfgs], cfg.batch_size)
    with jax.default_device(jax_device(device)):
        data = device_data(ds, jax_device(device))
    n_updates = updates_for(cfg, ds.n_transitions)
    members = []
    for c, out_dir in zip(cfgs, out_dirs, strict=False):
        out_dir.mkdir(parents=True, exist_ok=True)
        if (out_dir / "metrics.json").exists():
            (out_dir / "metrics.json").unlink()  # a rerun never leaves an old result next to new files
        from algorithms import make
        hp = dataclasses.asdict(make(c.algorithm, spec, c.hyperparameters).cfg)
        resolved = _resolved_config(c, ds, checksum, task, hp, n_updates, device)
        atomic_write_text(out_dir / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))
        code = _code_version(engine.learner.name)
        members.append(Member(
            cfg=c, out_dir=out_dir, resume_path=out_dir / RESUME_FILE, code=code,
            fingerprint=_fingerprint(resolved, code), name=engine.learner.name,
            label=f"[{c.algorithm} {task.name} {ds.meta['quality']} {c.variant} seed{c.seed}]"))
    # r_max of the rewards the learner trains on bounds any value it should reach
    hp0 = dataclasses.asdict(engine.learner.cfg)
    rewards = np.asarray(data.reward_to_go if hp0.get("reward_to_go") else data.reward)
    gamma = hp0.get("gamma", 0.99)
    value_bound = max(float(np.abs(rewards).max()), 1e-6) / (1.0 - gamma)

    # one seed group per member: member k's episodes are those of its run alone
    venv = make_vector_env(task, cfg.eval_episodes * len(cfgs), seed=[10_000 + c.seed for c in cfgs])
    venv.warm_up()  # simulator compilation stays out of the timed loop
    run = Run(cfg=cfg, log=log, device=device, ds=ds, checksum=checksum, task=task, data=data, engine=engine,
               n_updates=n_updates, value_bound=value_bound, venv=venv,
               eval_every=max(1, n_updates // max(1, cfg.n_evals)), columns=evaluation_columns())
    return run, members


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
                "backend_version": backend_version(task), "jax": str(jax.__version__), "device": device}
    # the simulator settings of the task's suite that differ from the defaults (a default run's
    # config.yaml has no such key, as before the settings existed)
    resolved["simulators"] = task_simulators(cfg.simulators, task.suite)
    if not resolved["simulators"]:
        del resolved["simulators"]
    return resolved


def _resume_or_start(run: Run, m: Member, k: int):
    """Member ``k``'s TrainState to start from: that of the resume state a previous attempt left
    (when ``cfg.resume`` and the state is of this run; its curve and step go into ``m``), else the
    fresh state of its seed.  A state that loads but does not fit the learner is set aside."""
    fresh = member(run.engine.init([m.cfg.seed]), 0)
    saved = load_resume(m.resume_path, m.fingerprint, run.log) if m.cfg.resume else None
    if saved is None:
        return fresh
    try:
        state = _train_state_from(saved["train_state"], run.engine.learner, fresh)
        curve, step = list(saved["curve"]), int(saved["step"])
        if saved.get("env") is not None and isinstance(run.venv, ResumableVectorEnv):
            run.venv.set_state(saved["env"], group=k)  # what decides member k's next evaluation episodes
    except Exception as exc:  # noqa: BLE001 - a state that loads but does not fit this learner
        set_aside(m.resume_path, f"resume state does not fit the run ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0][:300] if str(exc) else ''})", run.log)
        return fresh
    m.curve, m.step, m.start_step = curve, step, step
    run.log(f"{m.label} resumed at step {step} ({len(curve)} evaluations done)")
    return state


def _train_loop(run: Run, members: list, states, hooks: RunHooks) -> None:
    """Every member's updates to ``n_updates`` in chunks of ``eval_every`` (one engine call for
    all members per chunk), each chunk followed by the members' divergence checks, one batched
    evaluation, the resume saves and ``hooks.after_evaluation``; a member that diverges stops
    alone (its row in the curve has no evaluation); a member that ends writes its results."""
    t0 = time.perf_counter()
    for m in members:
        m.t0, m.tb = t0, tensorboard_writer(m.out_dir, run.log)
    n_members = len(members)
    while any(m.active for m in members):
        chunks = np.array([min(run.eval_every, run.n_updates - m.step) if m.active else 0 for m in members],
                          np.int32)
        t_train = time.perf_counter()
        states, last = run.engine.train(states, run.data, jax.numpy.asarray(chunks))
        last = to_host(last)  # one host sync per evaluation
        dt = time.perf_counter() - t_train
        evaluated = []
        for k, m in enumerate(members):
            if not chunks[k]:
                continue
            m.step += int(chunks[k])
            m.train_s += dt / max(1, int((chunks > 0).sum()))
            losses = {name: float(v[k]) for name, v in last.items()}
            m.reason = divergence(losses, run.value_bound)
            if m.reason is not None:
                m.curve.append({"step": m.step, **{c: math.nan for c in run.columns}, **losses})
                run.log(f"{m.label} DIVERGED at step {m.step}: {m.reason}")
                write_results(run, m, k, member(states.params, k), hooks)
                continue
            evaluated.append((k, m, losses))
        if evaluated:
            evaluate_members(run, members, states, evaluated, n_members)
        for k, m, _ in evaluated:
            if m.step < run.n_updates and m.cfg.resume:
                save_resume(m.resume_path, m.fingerprint, {
                    "step": m.step, "curve": m.curve, "train_state": _train_state_arrays(member(states, k)),
                    "env": (run.venv.get_state(episodes=False, group=k)
                            if isinstance(run.venv, ResumableVectorEnv) else None)})
            if hooks.after_evaluation is not None:
                hooks.after_evaluation(m.step, m.curve)
            if m.step >= run.n_updates:
                write_results(run, m, k, member(states.params, k), hooks)



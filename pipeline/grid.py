"""The run grid: which datasets and training runs a config asks for, and where they live.

    results/<profile>/datasets/{suite}/{task}/{quality}.h5
    results/<profile>/runs/{suite}/{task}/{quality}/{algorithm}/{variant}/seed{seed}/metrics.json

(the paths themselves are built in ``pipeline/paths.py``, for the rules and the scripts too).

Checking a config is ``pipeline.config_checks`` (which imports this module, never the
other way round).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from envs.registry import get_task
from pipeline.paths import Paths, paths_for


@dataclass(frozen=True)
class Run:
    suite: str
    task: str
    quality: str
    algorithm: str
    variant: str
    seed: int
    hyperparameters: dict = field(default_factory=dict, hash=False, compare=False)
    #: the config's profile, which names the results tree (not part of the run's key)
    profile: str = field(default="default", hash=False, compare=False, repr=False)

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.task}/{self.quality}/{self.algorithm}/{self.variant}/seed{self.seed}"

    @property
    def dir(self) -> str:
        return Paths(self.profile).run_dir(self.id)

    @property
    def metrics(self) -> str:
        return f"{self.dir}/metrics.json"

    @property
    def dataset(self) -> str:
        return Paths(self.profile).dataset(self.suite, self.task, self.quality)


def dataset_path(config: dict, suite: str, task: str, quality: str) -> str:
    return paths_for(config).dataset(suite, task, quality)


def task_cells(config: dict) -> list:
    """(suite, canonical task, quality) for every dataset of the config."""
    cells = []
    for suite, spec in config["suites"].items():
        for name in spec["tasks"]:
            task = get_task(name, suite)
            for q in spec["qualities"]:
                cells.append((suite, task.name, q))
    return cells


# -- hyperparameters by canonical algorithm name (``comadice`` -> ``ComaDICE``) -------------------

def canonical_algorithm(name) -> str:
    from algorithms import algorithm_class

    return algorithm_class(name).name


def canonical_hyperparameters(config: dict) -> dict:
    """``config['hyperparameters']`` keyed by canonical algorithm names (``comadice`` ->
    ``ComaDICE``); unknown names are kept as given (``check_config`` reports them)."""
    out = {}
    for name, hp in (config.get("hyperparameters") or {}).items():
        try:
            out[canonical_algorithm(name)] = hp
        except KeyError:
            out[name] = hp
    return out


def hyperparameters_for(config: dict, algorithm: str) -> dict:
    """The configured hyperparameters of ``algorithm``, whatever the case of either name."""
    try:
        algorithm = canonical_algorithm(algorithm)
    except KeyError:
        pass
    return dict(canonical_hyperparameters(config).get(algorithm, {}))



#: the ComaDICE ablations of the paper: Fig. 1 (alpha), appendix (f-divergence, mixer depth)
ABLATION_KEYS = {"alpha": "alpha", "f_divergence": "fdiv", "mixer_layers": "mixer"}


def ablation_variants(config: dict) -> dict:
    """Named ComaDICE variants for the ablations in ``config['ablations']``.

    A value equal to ComaDICE's configured default is not a separate run: the default run
    serves (``variant_for`` maps it back).  Names: ``alpha0.1``, ``fdiv_kl``, ``mixer2``.
    """
    from algorithms import make_config

    abl = config.get("ablations") or {}
    if not abl:
        return {}
    default = make_config("ComaDICE", hyperparameters_for(config, "ComaDICE"))
    out = {}
    for key, short in ABLATION_KEYS.items():
        for value in abl.get(key, []):
            if value == getattr(default, key):
                continue
            name = f"{short}{value}" if key != "f_divergence" else f"{short}_{value}"
            out[name] = {"algorithm": "ComaDICE", "hyperparameters": {key: value}, "suites": abl.get("suites")}
    return out


def variant_for(config: dict, key: str, value) -> str:
    """The variant whose run holds ComaDICE with ``key = value`` (``default`` if it is the default)."""
    for name, v in ablation_variants(config).items():
        if v["hyperparameters"] == {key: value}:
            return name
    return "default"


def runs(config: dict) -> list:
    """Every training run of the grid: defaults for every algorithm, then the variants."""
    from algorithms import algorithm_class
    hps = canonical_hyperparameters(config)  # keyed by canonical names, as the runs are
    variants = {**(config.get("variants") or {}), **ablation_variants(config)}
    profile = paths_for(config).profile
    out = []
    for suite, task, quality in task_cells(config):
        for algo in config["algorithms"]:
            name = algorithm_class(algo).name
            for seed in config["seeds"]:
                out.append(Run(suite, task, quality, name, "default", seed, dict(hps.get(name, {})), profile))
        for vname, v in variants.items():
            if v.get("suites") and suite not in v["suites"]:
                continue
            name = algorithm_class(v["algorithm"]).name
            hp = {**hps.get(name, {}), **v["hyperparameters"]}
            for seed in config["seeds"]:
                out.append(Run(suite, task, quality, name, vname, seed, hp, profile))
    return out


#: runs per training program when ``train.members`` is ``auto``: one per process on a CPU (the
#: engine's updates are compute-bound there: benchmarks/bench_engine.py), many on a GPU, where one
#: run alone leaves it idle between its kernel launches
AUTO_MEMBERS = {"cpu": 1, "gpu": 25}


def host_has_gpu() -> bool:
    """Whether the machine building the job graph has an NVIDIA GPU (its driver lists one)."""
    import os
    try:
        return bool(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:
        return False


def members_per_program(config: dict, gpu: bool = None) -> int:
    """How many runs of a cell one training program trains together (``train.members``).  ``auto``:
    25 where the runs train on a GPU (``train.device`` not ``cpu``, and this machine has one), else
    1; a cluster whose submitting machine has no GPU sets the number."""
    value = config["train"].get("members", "auto")
    if value == "auto":
        device = str(config["train"].get("device", "auto"))
        on_gpu = not device.startswith("cpu") and (host_has_gpu() if gpu is None else gpu)
        return AUTO_MEMBERS["gpu" if on_gpu else "cpu"]
    return int(value)


@dataclass(frozen=True)
class Program:
    """Runs of one (suite, task, quality, algorithm) trained as members of one compiled program
    (harness/engine.py): they may differ in seed and float hyperparameters only."""
    suite: str
    task: str
    quality: str
    algorithm: str
    index: int
    runs: tuple

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.task}/{self.quality}/{self.algorithm}/program{self.index}"


def programs(config: dict, grid_runs: list) -> list:
    """The grid's runs as training programs of at most ``train.members`` runs: per cell and
    algorithm, the runs that can share a program (``harness.engine``'s rule: the same config but
    for float hyperparameters), in grid order, cut into programs of that size."""
    from harness.members import group_members
    size = members_per_program(config)
    cells = {}
    for r in grid_runs:
        cells.setdefault((r.suite, r.task, r.quality, r.algorithm), []).append(r)
    out = []
    for (suite, task, quality, algorithm), rs in cells.items():
        k = 0
        for group in group_members(algorithm, [r.hyperparameters for r in rs]):
            members = [rs[i] for i in group]
            for start in range(0, len(members), size):
                out.append(Program(suite, task, quality, algorithm, k, tuple(members[start:start + size])))
                k += 1
    return out


def program_schedule(program: Program, schedule_path) -> dict:
    """The ``schedule`` param of a program's training job: Snakemake reruns a job whose params
    changed, so this value changes exactly when the program has a run without a result.

    - runs without a result (``metrics.json``) now: ``{"runs": those, "generation": g + 1}``;
    - none: the value the program's last finished job ran with (``schedule_path``, which that job
      wrote), so that a finished program is not scheduled again;

    with ``g`` that file's ``generation`` (0 without a readable file).  Were the value the runs
    without a result alone, every program's job would run once more after it finished (its value
    going from its runs to none), and a run whose result is deleted right after the job that
    trained it alone would not be rerun (the value the same list again).  The file is not the
    job's declared output: Snakemake deletes those before the job starts and evaluates the params
    again then, and both evaluations must agree."""
    import json
    import os
    pending = [r.id for r in program.runs if not os.path.exists(r.metrics)]
    try:
        with open(schedule_path) as f:
            last = json.load(f)
        last = {"runs": [str(r) for r in last["runs"]], "generation": int(last["generation"])}
    except (OSError, ValueError, TypeError, KeyError):
        last = None
    if pending or last is None:
        return {"runs": pending, "generation": (last["generation"] if last else 0) + 1}
    return last


def training_length(config: dict, suite: str, task: str) -> dict:
    """How long a run of ``task`` trains: ``{"n_updates": n}`` when the config fixes it
    (smoke, mini), else ``{"epochs": e}``, the authors' length in epochs of |D| / batch_size
    updates (vietbt/ComaDICE run.py), turned into updates by the training loop once the
    dataset's size is known."""
    tcfg = config["train"]
    if tcfg.get("n_updates") is not None:
        return {"n_updates": int(tcfg["n_updates"])}
    epochs = (tcfg.get("epochs") or {}).get(suite)
    if isinstance(epochs, dict):
        epochs = epochs.get(get_task(task, suite).name, epochs.get(task))
    if epochs is None:
        raise ValueError(f"train.epochs has no entry for {suite}/{task} and train.n_updates is not set: "
                         f"give one of them (the authors' epochs are in config/config.yaml)")
    return {"epochs": float(epochs)}

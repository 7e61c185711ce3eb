"""The run grid: which datasets and training runs a config asks for, and where they live.

    results/<profile>/datasets/{suite}/{task}/{quality}.h5
    results/<profile>/runs/{suite}/{task}/{quality}/{algorithm}/{variant}/seed{seed}/metrics.json

(the paths themselves are built in ``analysis/paths.py``, for the rules and the scripts too).

``check_config`` refuses unknown tasks, qualities, algorithms and hyperparameters with
a message naming them, before any job starts.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from analysis.paths import Paths, paths_for
from tasks.registry import get_task


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


def check_config(config: dict) -> None:
    """Everything the JSON schema cannot know: names against the registries."""
    from algorithms import algorithm_class, make_config
    from tasks.registry import check_quality

    problems = []
    for suite, spec in config["suites"].items():
        for name in spec["tasks"]:
            try:
                task = get_task(name, suite)
            except KeyError as exc:
                problems.append(str(exc.args[0]))
                continue
            for q in spec["qualities"]:
                try:
                    check_quality(task, q)
                except ValueError as exc:
                    problems.append(str(exc))
    from analysis.config_checks import behaviour_problems, fail_run_problems, hyperparameters_for, name_problems

    hps = config.get("hyperparameters") or {}
    for name in list(config["algorithms"]) + list(hps):
        try:
            algorithm_class(name)
        except KeyError as exc:
            problems.append(str(exc.args[0]))
    for name, hp in hps.items():
        try:
            make_config(name, hp)
        except (KeyError, ValueError, TypeError) as exc:
            problems.append(f"hyperparameters.{name}: {exc}")
    for vname, v in (config.get("variants") or {}).items():
        if vname == "default":
            problems.append("variant name 'default' is reserved for the default hyperparameters")
        try:
            make_config(v["algorithm"], {**hyperparameters_for(config, v["algorithm"]), **v["hyperparameters"]})
        except (KeyError, ValueError, TypeError) as exc:
            problems.append(f"variants.{vname}: {exc}")
    abl = config.get("ablations") or {}
    for suite in abl.get("suites") or []:
        if suite not in config["suites"]:
            problems.append(f"ablations.suites names {suite!r}, which is not among the config's suites "
                            f"({', '.join(config['suites'])})")
    for key, values in abl.items():
        if key == "suites":
            continue
        for value in values:
            try:
                make_config("ComaDICE", {**hyperparameters_for(config, "ComaDICE"), key: value})
            except (KeyError, ValueError, TypeError) as exc:
                problems.append(f"ablations.{key}: {exc}")
    for suite, task, _ in task_cells(config) if not problems else []:
        try:
            training_length(config, suite, task)
        except ValueError as exc:
            problems.append(str(exc))
    if not problems:  # names canonicalised, duplicates refused; fail_runs must name runs of the grid
        problems += name_problems(config, ablation_variants(config))
    if not problems:
        problems += fail_run_problems(config, [r.id for r in runs(config)])
    if not problems:
        problems += behaviour_problems(config)
    if problems:
        raise ValueError("invalid config:\n  - " + "\n  - ".join(sorted(set(problems), key=problems.index)))


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
    from analysis.config_checks import hyperparameters_for

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
    from analysis.config_checks import canonical_hyperparameters

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

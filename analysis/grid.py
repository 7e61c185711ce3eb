"""The run grid: which datasets and training runs a config asks for, and where they live.

    results/datasets/{suite}/{task}/{quality}.h5
    results/runs/{suite}/{task}/{quality}/{algorithm}/{variant}/seed{seed}/metrics.json

``check_config`` refuses unknown tasks, qualities, algorithms and hyperparameters with
a message naming them, before any job starts.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from envs.registry import get_task

RESULTS = "results"


@dataclass(frozen=True)
class Run:
    suite: str
    task: str
    quality: str
    algorithm: str
    variant: str
    seed: int
    hyperparameters: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.task}/{self.quality}/{self.algorithm}/{self.variant}/seed{self.seed}"

    @property
    def dir(self) -> str:
        return f"{RESULTS}/runs/{self.id}"

    @property
    def metrics(self) -> str:
        return f"{self.dir}/metrics.json"

    @property
    def dataset(self) -> str:
        return dataset_path(self.suite, self.task, self.quality)


def dataset_path(suite: str, task: str, quality: str) -> str:
    return f"{RESULTS}/datasets/{suite}/{task}/{quality}.h5"


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
    from algorithms.base import algorithm_class, make_config
    from envs.registry import check_quality

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
            make_config(v["algorithm"], {**hps.get(v["algorithm"], {}), **v["hyperparameters"]})
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
                make_config("ComaDICE", {**hps.get("ComaDICE", {}), key: value})
            except (KeyError, ValueError, TypeError) as exc:
                problems.append(f"ablations.{key}: {exc}")
    if problems:
        raise ValueError("invalid config:\n  - " + "\n  - ".join(problems))


#: the ComaDICE ablations of the paper: Fig. 1 (alpha), appendix (f-divergence, mixer depth)
ABLATION_KEYS = {"alpha": "alpha", "f_divergence": "fdiv", "mixer_layers": "mixer"}


def ablation_variants(config: dict) -> dict:
    """Named ComaDICE variants for the ablations in ``config['ablations']``.

    A value equal to ComaDICE's configured default is not a separate run: the default run
    serves (``variant_for`` maps it back).  Names: ``alpha0.1``, ``fdiv_kl``, ``mixer2``.
    """
    from algorithms.base import make_config

    abl = config.get("ablations") or {}
    if not abl:
        return {}
    default = make_config("ComaDICE", (config.get("hyperparameters") or {}).get("ComaDICE", {}))
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
    from algorithms.base import algorithm_class

    hps = config.get("hyperparameters") or {}
    variants = {**(config.get("variants") or {}), **ablation_variants(config)}
    out = []
    for suite, task, quality in task_cells(config):
        for algo in config["algorithms"]:
            name = algorithm_class(algo).name
            for seed in config["seeds"]:
                out.append(Run(suite, task, quality, name, "default", seed, dict(hps.get(name, {}))))
        for vname, v in variants.items():
            if v.get("suites") and suite not in v["suites"]:
                continue
            name = algorithm_class(v["algorithm"]).name
            hp = {**hps.get(name, {}), **v["hyperparameters"]}
            for seed in config["seeds"]:
                out.append(Run(suite, task, quality, name, vname, seed, hp))
    return out

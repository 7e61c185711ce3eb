"""Config checks that go beyond the JSON schema, run before any job starts.

- the file read strictly and the values' types (``pipeline/config_types.py``: ``load_yaml_strict``,
  ``type_problems``), before the schema validation.
- ``name_problems``: task and algorithm names are canonicalised and duplicates refused
  (``[ComaDICE, comadice]`` or ``[Hopper_3x1, "Hopper 3x1"]`` would make every row twice);
  variant names are path-safe, not ``default``, and not those of the ablation variants.
- ``fail_run_problems``: every ``fail_runs`` entry names a run of the grid.
- ``renamed_key_problems``: dataset keys of earlier configs, refused naming their replacements.
- ``behaviour_problems``: the paper generator's SMAX MAPPO settings fit together (a BPTT chunk
  that divides the rollout, minibatches that divide its sequences, at least one update per run).

Snakemake reads ``--configfile`` itself, before the Snakefile runs, and reports a YAML syntax
error without file or line; ``python -m pipeline.config_checks FILE...`` runs every check on the
given files (the Makefile's targets run it first) and names them.
"""
from __future__ import annotations

import difflib
import re
import sys

from pipeline.config_types import (  # the file and type checks, run first
    ConfigFileError,
    check_config_files,
    check_config_types,
    load_schema,
    load_yaml_strict,
)
from pipeline.grid import (
    ablation_variants,
    canonical_algorithm,
    hyperparameters_for,
    runs,
    task_cells,
    training_length,
)

#: variant names become a directory of every run's path
VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


# -- names ---------------------------------------------------------------------------------------

def _duplicates(names, canonical, what: str) -> list:
    seen, out = {}, []
    for name in names:
        try:
            key = canonical(name)
        except (KeyError, ValueError):
            continue  # unknown: reported elsewhere
        if key in seen:
            out.append(f"{what} names {key} twice ({seen[key]!r} and {name!r}): every row would be made twice")
        else:
            seen[key] = name
    return out


def name_problems(config: dict, ablation_names=()) -> list:
    """Duplicate tasks / algorithms / hyperparameter sections after canonicalisation, and bad
    variant names."""
    from envs.registry import get_task

    out = []
    for suite, spec in (config.get("suites") or {}).items():
        out += _duplicates(spec.get("tasks") or [], lambda n, s=suite: get_task(n, s).id, f"suites.{suite}.tasks")
        out += _duplicates(spec.get("qualities") or [], str, f"suites.{suite}.qualities")
    out += _duplicates(config.get("algorithms") or [], canonical_algorithm, "algorithms")
    out += _duplicates(list(config.get("hyperparameters") or {}), canonical_algorithm, "hyperparameters")
    reserved = {n.lower(): n for n in ablation_names}
    seen = {}
    for vname in config.get("variants") or {}:
        if not isinstance(vname, str) or not VARIANT_NAME.match(vname):
            out.append(f"variants.{vname}: a variant name becomes a directory of its runs' paths: use letters, "
                       "digits and . _ + - (not starting with a punctuation mark)")
            continue
        if vname.lower() in reserved:
            out.append(f"variants.{vname}: the name of an ablation variant ({reserved[vname.lower()]}, from "
                       "'ablations'); their runs would share a directory: rename the variant")
        if vname.lower() in seen:
            out.append(f"variants.{vname}: differs from variants.{seen[vname.lower()]} only in case "
                       "(the same directory on a case-insensitive file system)")
        seen[vname.lower()] = vname
    return out


#: dataset keys of earlier configs and the keys that replaced them (``renamed_key_problems``)
RENAMED_DATASET_KEYS = {
    "smax_episodes": "datasets.smac_like.episodes",
    "mamujoco_episodes": "datasets.d4rl_like.episodes",
    "ars_iterations": "datasets.d4rl_like.ars_iterations",
    "mappo_env_steps": "datasets.smac_like.mappo.env_steps and datasets.d4rl_like.mappo.env_steps",
    "mappo": "datasets.smac_like.mappo (was mappo.smax) and datasets.d4rl_like.mappo (was mappo.mamujoco)",
}


def renamed_key_problems(config: dict) -> list:
    """Dataset keys of earlier configs, each refused naming the keys that replaced it (the datasets
    section is keyed by the suites' dataset kind: ``smac_like``, ``d4rl_like``)."""
    d = config.get("datasets")
    if not isinstance(d, dict):
        return []
    return [f"datasets.{old} is no longer read: use {new}" for old, new in RENAMED_DATASET_KEYS.items() if old in d]


def check_renamed_keys(config: dict) -> None:
    problems = renamed_key_problems(config)
    if problems:
        raise ValueError("invalid config:\n  - " + "\n  - ".join(problems))


def behaviour_problems(config: dict) -> list:
    """The SMAC-like behaviour runs' settings (``datasets.smac_like.mappo``) checked as the learner
    checks them (``behaviour.smac_like.mappo_config``, no JAX needed), for every SMAC task of the grid."""
    from behaviour.smac_like.mappo_config import SMAXMAPPOConfig
    from envs.suites import get_suite
    from pipeline.costs import smac_like_env_steps

    d = config.get("datasets") or {}
    if d.get("generator", "smoke") != "paper":
        return []
    mappo = dict(((d.get("smac_like") or {}).get("mappo")) or {})
    per_task = mappo.pop("task_env_steps", None) or {}
    mappo.pop("env_steps", None)
    tasks = {t for s, t, _ in task_cells(config) if get_suite(s).dataset_kind == "smac"}
    problems = [f"datasets.smac_like.mappo.task_env_steps: {t!r} is not a SMAC task of this config"
                for t in per_task if t not in tasks]
    for task in sorted(tasks):
        try:
            SMAXMAPPOConfig(**mappo).validate(smac_like_env_steps(config, task))
        except (TypeError, ValueError) as exc:
            problems.append(f"datasets.smac_like.mappo ({task}): {exc}")
    return problems


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def memory_problems(config: dict, memory: int = None) -> list:
    """Settings whose memory cannot fit this machine (``envs.host_memory.machine_memory_bytes``), named
    by key, before any job: a SMAX MAPPO update holds ``num_envs x rollout_steps`` steps of the
    task's observations (``pipeline.costs.smax_rollout_bytes``; past the memory XLA fails inside
    the run naming no setting), and a SMAC dataset's ``smac_like.episodes`` episodes are held in memory
    until it is written (``smax_episode_bytes``: each at its longest).  Each says how much would fit."""
    from behaviour.smac_like.mappo_config import SMAXMAPPOConfig
    from envs.host_memory import machine_memory_bytes
    from envs.registry import get_task
    from envs.suites import get_suite
    from pipeline.costs import smax_episode_bytes, smax_rollout_bytes, smax_rollout_step_bytes

    memory = machine_memory_bytes() if memory is None else memory
    d = config.get("datasets") or {}
    smac = sorted({(s, t) for s, t, _ in task_cells(config) if get_suite(s).dataset_kind == "smac"})
    problems = []
    episodes = (d.get("smac_like") or {}).get("episodes")
    for suite, name in smac:
        task = get_task(name, suite)
        if isinstance(episodes, int) and episodes * smax_episode_bytes(task) > memory:
            fit = memory // smax_episode_bytes(task)
            problems.append(f"datasets.smac_like.episodes: {episodes:,} episodes of {task.id} take up to "
                            f"{_gib(episodes * smax_episode_bytes(task))} in memory ({task.episode_limit} steps "
                            f"each at most), more than this machine's {_gib(memory)}; at most {fit:,} fit")
    if d.get("generator", "smoke") != "paper":
        return problems
    mappo = {k: v for k, v in (((d.get("smac_like") or {}).get("mappo")) or {}).items()
             if k not in ("env_steps", "task_env_steps")}
    try:
        cfg = SMAXMAPPOConfig(**mappo)
    except TypeError:
        return problems  # an unknown field: behaviour_problems names it
    if not all(isinstance(getattr(cfg, k), int) and getattr(cfg, k) >= 1 for k in ("num_envs", "rollout_steps",
                                                                                  "hidden")):
        return problems
    for suite, name in smac:
        task = get_task(name, suite)
        need = smax_rollout_bytes(task, cfg.num_envs, cfg.rollout_steps, cfg.hidden, bool(cfg.agent_id))
        if need > memory:
            per_step = smax_rollout_bytes(task, 1, 1, cfg.hidden, bool(cfg.agent_id))
            problems.append(f"datasets.smac_like.mappo.num_envs x rollout_steps: {cfg.num_envs} x {cfg.rollout_steps} "
                            f"steps of {task.id} need about {_gib(need)} in an update "
                            f"({smax_rollout_step_bytes(task, cfg.hidden, bool(cfg.agent_id)):,} bytes a step, "
                            f"held more than once), more than this machine's {_gib(memory)}; "
                            f"num_envs x rollout_steps must stay below {memory // per_step:,}")
    return problems


def fail_run_problems(config: dict, run_ids) -> list:
    """Every ``fail_runs`` entry must be the id of a run of the grid (a typo would silently
    fail nothing)."""
    run_ids = set(run_ids)
    out = []
    for entry in config.get("fail_runs") or []:
        if entry not in run_ids:
            near = difflib.get_close_matches(str(entry), sorted(run_ids), n=1)
            out.append(f"fail_runs: {entry!r} is not a run of the grid"
                       + (f"; did you mean {near[0]!r}?" if near else
                          " (runs are suite/task/quality/algorithm/variant/seed<N>)"))
    return out


# -- the whole check, one sequence for Snakemake (workflow/rules/common.smk) and the command line --

def task_problems(config: dict) -> list:
    """Every suite's tasks and their dataset qualities against the task registry."""
    from envs.registry import check_quality, get_task

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
    return problems


def algorithm_problems(config: dict) -> list:
    """The algorithms and hyperparameter sections against the learner registry, each section's
    settings as its learner's config checks them."""
    from algorithms import algorithm_class, make_config

    problems = []
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
    return problems


def variant_problems(config: dict) -> list:
    """Each variant's settings over its algorithm's hyperparameters, as its learner checks them."""
    from algorithms import make_config

    problems = []
    for vname, v in (config.get("variants") or {}).items():
        if vname == "default":
            problems.append("variant name 'default' is reserved for the default hyperparameters")
        try:
            make_config(v["algorithm"], {**hyperparameters_for(config, v["algorithm"]), **v["hyperparameters"]})
        except (KeyError, ValueError, TypeError) as exc:
            problems.append(f"variants.{vname}: {exc}")
    return problems


def ablation_problems(config: dict) -> list:
    """The ablations' suites among the config's, each ablated value as ComaDICE's config checks it."""
    from algorithms import make_config

    problems = []
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
    return problems


def training_length_problems(config: dict) -> list:
    """Every cell's training length (``train.n_updates`` or its epochs) as the runs would read it."""
    problems = []
    for suite, task, _ in task_cells(config):
        try:
            training_length(config, suite, task)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def check_config(config: dict) -> None:
    """Everything the JSON schema cannot know: names against the registries.  The checks after
    the names run only on a config whose names are known (each needs them)."""
    problems = task_problems(config) + algorithm_problems(config) + variant_problems(config) + ablation_problems(config)
    later = (training_length_problems,
             lambda c: name_problems(c, ablation_variants(c)),   # names canonicalised, duplicates refused
             lambda c: fail_run_problems(c, [r.id for r in runs(c)]),   # fail_runs must name runs of the grid
             behaviour_problems, memory_problems)
    for check in later:
        if not problems:
            problems += check(config)
    if problems:
        raise ValueError("invalid config:\n  - " + "\n  - ".join(sorted(set(problems), key=problems.index)))


def _validator_filling_defaults(schema: dict):
    """The validator of the schema's own draft (``$schema``), extended to fill in each missing
    property's ``default`` as Snakemake's ``validate(..., set_default=True)`` does."""
    import copy

    import jsonschema

    base = jsonschema.validators.validator_for(schema)
    properties = base.VALIDATORS["properties"]

    def fill_then_validate(validator, props, instance, sub):
        if isinstance(instance, dict):
            for name, prop in props.items():
                if isinstance(prop, dict) and "default" in prop and name not in instance:
                    instance[name] = copy.deepcopy(prop["default"])
        yield from properties(validator, props, instance, sub)

    return jsonschema.validators.extend(base, {"properties": fill_then_validate})(schema)


def validate_config(config: dict, config_files=()) -> dict:
    """Every check of a config, in order, each a ``ValueError`` (``ConfigFileError`` for a YAML
    file) that names what is wrong before any job starts: the files read strictly (a repeated
    key), the types (``'1e-3'`` is a string), the schema (filling its defaults into ``config``),
    then the names and settings against the registries (``check_config``). Returns ``config``."""
    import jsonschema

    check_config_files(config_files)
    check_renamed_keys(config)
    check_config_types(config)
    try:
        _validator_filling_defaults(load_schema()).validate(config)
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "the config"
        raise ValueError(f"invalid config: {where}: {exc.message}") from None
    check_config(config)
    return config


# -- the command line ----------------------------------------------------------------------------

def main(argv=None) -> int:
    """``python -m pipeline.config_checks config/smoke.yaml``: every check Snakemake would make,
    with the file and line of a YAML error; exit status 2 and the problems, or 0."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print("usage: python -m pipeline.config_checks CONFIG.yaml [MORE.yaml ...]", file=sys.stderr)
        return 2
    try:
        config = {}
        for path in argv:
            config.update(load_yaml_strict(path))  # later files replace top-level keys, as Snakemake's
        validate_config(config)    # the files were read strictly above, with their lines
        n = len(runs(config))
    except ConfigFileError as exc:  # names its file and line already
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {', '.join(argv)}: {exc}", file=sys.stderr)
        return 2
    print(f"{', '.join(argv)}: valid ({n} training runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

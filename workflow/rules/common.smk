# Config checks, the run grid and every helper function of the rules (no rules here).
from pipeline.config_checks import validate_config
from pipeline.costs import (
    behaviour_runtime,
    d4rl_like_env_steps,
    smac_like_env_steps,
    dataset_runtime,
    train_mem_mb,
    train_runtime,
)
from pipeline.settings import apply_cli_overrides, result_settings, uses_gpu
from pipeline.paths import PROGRAM_ID, RUN_ID, paths_for

# --config 'train={n_evals: 5}': merged by Snakemake into the default config or the profile;
# its nested values arrive as strings, typed here
apply_cli_overrides(config, workflow.config_settings.config)
# the one check sequence (as `python -m pipeline.config_checks`): the files re-read strictly
# (Snakemake's loader keeps the last of two equal keys), the types, the schema
# (workflow/schemas/config.schema.yaml, its defaults filled in), the names against the
# registries; unknown task / quality / algorithm / hyperparameter: a clear error, no job started
validate_config(config, getattr(workflow, "configfiles", None) or [])

from pipeline.grid import (
    members_per_program,
    program_schedule,
    programs,
    runs,
    task_cells,
    training_length,
    variant_for,
)
from pipeline.report_plan import (
    behaviour_curve_tasks,
    report_algorithms,
    report_tables,
    table_stems,
)
from harness.provenance import code_version
from envs.suites import SUITES as KNOWN_SUITES, get_suite, suites_of_kind

P = paths_for(config)  # results/<profile>, reports/<profile>, logs/<profile>
RUNS = runs(config)
RUN_INDEX = {r.id: r for r in RUNS}
# a finished run whose recorded dataset checksum is not the file's now at its dataset path (imported
# over, regenerated with an older modification time) is set aside and named, so this invocation
# retrains it (pipeline/stale_runs.py); only the managing process checks, not each cluster job
if workflow.is_main_process:
    from pipeline.stale_runs import set_aside_stale_runs

    set_aside_stale_runs(
        [(r.metrics, r.dataset) for r in RUNS],
        cache_path=os.path.join(P.results, "datasets", ".sha256-cache.json"),
        log=lambda line: print(line, file=sys.stderr),
    )
# runs trained together per job (train.members; auto: 1 on a CPU, 25 on a GPU)
MEMBERS = members_per_program(config)
PROGRAMS = programs(config, RUNS) if MEMBERS > 1 else []
PROGRAM_INDEX = {p.id: p for p in PROGRAMS}
CELLS = task_cells(config)
SUITES = list(config["suites"])
GENERATOR = config["datasets"].get("generator", "smoke")
TRAIN_SETTINGS = result_settings(
    config["train"]
)  # without device / threads: no rerun when they change
GPU = 1 if uses_gpu(config) else 0
# --use-conda: training gets a CUDA build of PyTorch unless train.device is cpu (decided from
# the config alone, so that a login node and a GPU node agree on the environment)
TRAIN_ENV = "../envs/comadice-cuda.yaml" if GPU else "../envs/comadice.yaml"
ABLATIONS = config.get("ablations") or {}
# the published datasets' statistics (analysis/data/README.md): the dataset-statistics table's
# published columns and the behaviour figures' reference lines
PUBLISHED_DATASETS = os.path.join(ROOT, "analysis", "data", "published_datasets.csv")
# per task: (suite, task, the source of its behaviour learning curve or None)
BEHAVIOUR_CURVES = behaviour_curve_tasks(config)
FINAL_EVAL = config["train"].get("final_eval_episodes", 0) > 0
# the simulators the tasks run on (backend, observation layout): a param of every rule whose
# script builds a task, so that scripts read their rule's params, never the whole config
SIMULATORS = config.get("simulators") or {}


def run_for(w):
    key = RUN_ID.format(**dict(w.items()))
    if key not in RUN_INDEX:
        raise ValueError(f"run {key} is not in the config's grid")
    return RUN_INDEX[key]


def program_for(w):
    key = PROGRAM_ID.format(**dict(w.items()))
    if key not in PROGRAM_INDEX:
        raise ValueError(f"training program {key} is not in the config's grid")
    return PROGRAM_INDEX[key]


def schedule(program):
    """The runs of a program's job, as a param (pipeline/grid.py program_schedule): it changes,
    and the job reruns, exactly when the program has a run without a result."""
    return program_schedule(program, P.program_schedule(program.id))


def program_runtime(w):
    """Minutes of a program's job: its runs' one after another (a safe bound; a GPU trains them
    in about the time of one)."""
    return train_runtime(config, w.suite, w.task) * len(program_for(w).runs)


def training_outputs():
    """What the training stage leaves: every run's metrics.json (one job per run), or every
    program's record (one job per program; the runs' metrics.json are read through it).
    """
    if MEMBERS == 1:
        return [r.metrics for r in RUNS]
    return [P.program(p.id) for p in PROGRAMS]


def is_failing(w):
    return RUN_ID.format(**dict(w.items())) in config.get("fail_runs", [])


def smac_like_record(w):
    """Episodes a MAPPO run keeps for suites whose dataset samples its replay (SMACv2)."""
    return (
        config["datasets"]["smac_like"]["episodes"]
        if get_suite(w.suite).replay_sample
        else 0
    )


def table_outputs():
    """Every table of the report as named outputs, <stem>_tex and <stem>_csv: the names
    render_tables.py writes to (both take the tables from pipeline.report_plan)."""
    out = {}
    for stem in table_stems(config):
        out[f"{stem}_tex"] = P.report(f"{stem}.tex")
        out[f"{stem}_csv"] = P.report(f"{stem}.csv")
    return out


def curve_outputs():
    """One learning-curve figure per (suite, task, quality)."""
    return [P.report(f"curves/{s}/{t}/{q}.png") for s, t, q in CELLS]


def behaviour_curve_file(suite, task, source):
    """The learning curve of a task's behaviour run; None where its data come from no learning run."""
    if source is None:
        return None
    return (P.smac_like_curve if source == "mappo" else P.d4rl_like_curve)(suite, task)


def behaviour_curve_outputs():
    """One behaviour learning-curve figure per task (pipeline.report_plan.behaviour_curve_tasks)."""
    return [P.behaviour_figure(s, t) for s, t, _ in BEHAVIOUR_CURVES]


def report_targets():
    out = list(rules.tables.output) + [
        P.report("statistics.tex"),
        P.report("dataset_statistics.tex"),
        P.report("latex_check.txt"),
    ]
    out += curve_outputs()
    out += behaviour_curve_outputs()
    out += list(rules.marl_eval.output) + list(rules.performance_profiles.output)
    out += [P.report("dataset_cards.tex")] + [P.dataset_card(*c) for c in CELLS]
    out += [P.dataset_card(*c, "json") for c in CELLS]
    if ABLATIONS.get("alpha"):
        out += [P.report("figure1_alpha.pdf"), P.report("figure1_alpha.png")]
    return out

# ComaDICE benchmark: datasets -> training runs -> tables.   snakemake --cores 8 all_tables
# The workflow's entry, at the repository root; its stages are workflow/rules/*.smk (one per
# stage), their scripts workflow/scripts/, their conda environments workflow/envs/.
import os
import sys

from snakemake.utils import min_version

min_version("8.0")

# the repository root (this file's directory: envs/, algorithms/, behaviour/, harness/, pipeline/, analysis/)
# is importable whatever the working directory
ROOT = workflow.basedir
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
# ... and in every job, also in a --use-conda environment, which holds only the dependencies
# (workflow/envs/*.yaml): the code a job runs is this checkout's
_pythonpath = os.environ.get("PYTHONPATH", "").split(os.pathsep)
os.environ.update(
    PYTHONPATH=os.pathsep.join([ROOT] + [p for p in _pythonpath if p and p != ROOT])
)


# The paper's grid unless a profile is given with --configfile (config/smoke.yaml), which
# replaces it whole.  --config key=value applies on top of either (train.n_evals=5 for a
# nested key).
if not workflow.overwrite_configfiles:

    configfile: os.path.join(ROOT, "config", "config.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


localrules:
    all_tables,
    aggregate,
    tables,
    figure_alpha,
    learning_curves,
    statistics,
    marl_eval,
    performance_profiles,
    dataset_stats,
    behaviour_curves,
    latex_check,


rule all_tables:
    default_target: True
    input:
        report_targets(),
        # every run's metrics too (or every training program's record): Snakemake 9 reruns a
        # missing intermediate file only when a target asks for it, so without this a deleted
        # metrics.json behind an up-to-date scores.csv would say "Nothing to be done" instead
        # of redoing that run
        training_outputs(),

# ComaDICE benchmark: datasets -> training runs -> tables.   snakemake --cores 8 all_tables
import os

from snakemake.utils import min_version, validate

min_version("8.0")

# The paper's grid unless a profile is given (--configfile config/smoke.yaml): a given
# profile replaces it whole rather than being merged into it.
if not config:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


validate(config, "workflow/schemas/config.schema.yaml")

from analysis.grid import check_config, runs, task_cells

check_config(config)  # unknown task / quality / algorithm / hyperparameter: a clear error, no job started

RUNS = runs(config)
RUN_INDEX = {r.id: r for r in RUNS}
CELLS = task_cells(config)
SUITES = list(config["suites"])

include: "workflow/rules/datasets.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


rule all_tables:
    default_target: True
    input:
        report_targets(),

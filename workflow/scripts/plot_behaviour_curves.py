"""Snakemake script: a behaviour learning-curve figure per task (analysis/behaviour_curves.py):
its behaviour run's win rate (SMAC) and return against environment steps, the published
datasets' returns as reference lines (input ``published``); a task whose data come from no
learning run gets a figure that says so."""
import pandas as pd

from analysis.behaviour_curves import plot_behaviour_curve
from analysis.dataset_stats import published_datasets
from envs.registry import get_task
from envs.suites import get_suite
from pipeline.logs import log_to

with log_to(snakemake.log[0]):
    published = published_datasets(snakemake.input.published)
    simulators = snakemake.params.simulators
    for (suite, task, curve_file), out in zip(snakemake.params.tasks, snakemake.output, strict=False):
        spec = get_task(task, suite, simulators=simulators)
        curve = pd.read_csv(curve_file) if curve_file else None
        plot_behaviour_curve(curve, suite, task, published, out, backend=spec.backend,
                             title=f"{get_suite(suite).title} {spec.display}: behaviour learning run")
        print(f"{out}: " + (f"{len(curve)} evaluations, {int(curve['env_steps'].max())} env steps"
                            if curve is not None and len(curve) else "no learning run"))

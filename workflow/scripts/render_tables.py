"""Snakemake script: LaTeX (and CSV) tables for each suite of the config."""

from analysis.logs import log_to
import pandas as pd

from algorithms.base import algorithm_class
from analysis.tables import render

TABLE_NAMES = {"smacv1": "table1_smacv1", "smacv2": "table2_smacv2", "mamujoco": "table3_mamujoco"}

with log_to(snakemake.log[0]):  # noqa: F821
    scores = pd.read_csv(snakemake.input[0])  # noqa: F821
    algorithms = [algorithm_class(a).name for a in snakemake.params.algorithms]  # noqa: F821
    for suite in snakemake.params.suites:  # noqa: F821
        name = TABLE_NAMES[suite]
        render(scores, suite, algorithms, f"reports/{name}.tex", f"reports/{name}.csv")
        print(f"wrote reports/{name}.tex")

"""Snakemake script: statistics beyond the paper's mean +- std, per suite (LaTeX and CSV):
the interquartile mean (IQM) of each algorithm's normalised scores with stratified-bootstrap
95% confidence intervals across tasks and seeds, and the probability that ComaDICE beats each
baseline (``analysis.statistics_table``)."""
import pandas as pd

from analysis.statistics_table import render_statistics, statistics_table
from envs.files import atomic_path
from pipeline.logs import log_to

p = snakemake.params
with log_to(snakemake.log[0]):
    scores = pd.read_csv(snakemake.input[0])
    table = statistics_table(scores, p.suites, p.algorithms)
    with atomic_path(snakemake.output.csv) as tmp:
        table.to_csv(tmp, index=False)
    render_statistics(table, snakemake.output.tex)
    print(table.to_string())

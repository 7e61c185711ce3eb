"""Snakemake script: rliable's performance profiles, one figure per suite
(``analysis.performance_profiles``)."""
import pandas as pd

from analysis.performance_profiles import plot_suite_profiles
from pipeline.logs import log_to

p = snakemake.params
with log_to(snakemake.log[0]):
    scores = pd.read_csv(snakemake.input[0])
    for suite, out in zip(p.suites, snakemake.output, strict=True):
        profiles = plot_suite_profiles(scores, suite, p.algorithms, out)
        print(f"{suite}: {', '.join(profiles)} -> {out}")

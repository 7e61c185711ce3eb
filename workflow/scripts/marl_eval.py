"""Snakemake script: every run's evaluations as marl-eval JSON (``analysis.marl_eval``)."""
import pandas as pd

from analysis.marl_eval import write_marl_eval
from pipeline.logs import log_to

with log_to(snakemake.log[0]):
    scores = pd.read_csv(snakemake.input[0])
    left_out = write_marl_eval(scores, snakemake.output[0])
    for line in left_out:
        print(line)
    print(f"wrote {snakemake.output[0]}; {len(left_out)} (environment, algorithm) pair(s) left out")

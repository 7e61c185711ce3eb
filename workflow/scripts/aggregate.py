"""Snakemake script: every run's metrics and curve into results/scores.csv."""

from analysis.aggregate import aggregate
from analysis.logs import log_to
from envs.files import atomic_path

with log_to(snakemake.log[0]):
    df = aggregate(snakemake.input)
    with atomic_path(snakemake.output[0]) as tmp:
        df.to_csv(tmp, index=False)
    print(f"{df[df.is_final].shape[0]} runs, {len(df)} evaluations")

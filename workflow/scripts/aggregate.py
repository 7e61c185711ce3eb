"""Snakemake script: every run's metrics and curve into results/scores.csv."""

from analysis.aggregate import aggregate
from analysis.logs import log_to
from tasks.files import atomic_path

with log_to(snakemake.log[0]):  # noqa: F821
    df = aggregate(snakemake.input)  # noqa: F821
    with atomic_path(snakemake.output[0]) as tmp:  # noqa: F821
        df.to_csv(tmp, index=False)
    print(f"{df[df.is_final].shape[0]} runs, {len(df)} evaluations")

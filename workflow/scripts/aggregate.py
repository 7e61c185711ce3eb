"""Snakemake script: every run's metrics and curve into results/scores.csv."""
import contextlib

from analysis.aggregate import aggregate

with open(snakemake.log[0], "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):  # noqa: F821
    df = aggregate(snakemake.input)  # noqa: F821
    df.to_csv(snakemake.output[0], index=False)  # noqa: F821
    print(f"{df[df.is_final].shape[0]} runs, {len(df)} evaluations")

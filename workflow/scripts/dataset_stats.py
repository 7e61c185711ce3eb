"""Snakemake script: the dataset-statistics table (LaTeX and CSV)."""
from analysis.dataset_stats import dataset_table, render_dataset_table
from analysis.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821
    df = dataset_table(snakemake.input)  # noqa: F821
    df.to_csv(snakemake.output.csv, index=False)  # noqa: F821
    render_dataset_table(df, snakemake.output.tex)  # noqa: F821
    print(df.to_string())

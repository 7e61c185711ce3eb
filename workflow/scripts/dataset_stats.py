"""Snakemake script: the dataset-statistics table (LaTeX and CSV), each dataset beside the
published one (input ``published``: analysis/data/published_datasets.csv)."""
from analysis.dataset_stats import dataset_table, published_datasets, render_dataset_table
from envs.files import atomic_path
from pipeline.logs import log_to

with log_to(snakemake.log[0]):
    df = dataset_table(snakemake.input.datasets, published_datasets(snakemake.input.published))
    with atomic_path(snakemake.output.csv) as tmp:
        df.to_csv(tmp, index=False)
    render_dataset_table(df, snakemake.output.tex)
    print(df.to_string())

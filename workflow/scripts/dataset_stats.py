"""Snakemake script: the dataset-statistics table (LaTeX and CSV)."""
from analysis.dataset_stats import dataset_table, render_dataset_table
from analysis.logs import log_to
from tasks.files import atomic_path

with log_to(snakemake.log[0]):  # noqa: F821
    df = dataset_table(snakemake.input)  # noqa: F821
    with atomic_path(snakemake.output.csv) as tmp:  # noqa: F821
        df.to_csv(tmp, index=False)
    render_dataset_table(df, snakemake.output.tex)  # noqa: F821
    print(df.to_string())

"""Snakemake script: the dataset-statistics table (LaTeX and CSV), each dataset beside the
published one (input ``published``: analysis/data/published_datasets.csv), and the dataset
cards (input ``og_marl_cards``: analysis/data/og_marl_dataset_cards.csv): their table and a
return histogram and a JSON card per dataset (outputs ``histograms`` and ``card_files``, in the
order of input ``datasets``)."""
from analysis.dataset_cards import og_marl_cards, write_card_files
from analysis.dataset_stats import (
    dataset_summary_and_meta,
    published_datasets,
    render_dataset_table,
    table_of_rows,
    write_dataset_cards,
)
from envs.files import atomic_path
from pipeline.logs import log_to

with log_to(snakemake.log[0]):
    published = published_datasets(snakemake.input.published)
    returns, figures, card_files, metadata, rows = {}, {}, {}, {}, []
    for path, png, card_file in zip(snakemake.input.datasets, snakemake.output.histograms,
                                    snakemake.output.card_files, strict=True):
        row, returns_of, meta = dataset_summary_and_meta(path)
        key = (row["suite"], row["task"], row["quality"])
        rows.append(row)
        returns[key], figures[key], card_files[key], metadata[key] = returns_of, png, card_file, meta
    df = table_of_rows(rows, published)
    with atomic_path(snakemake.output.csv) as tmp:
        df.to_csv(tmp, index=False)
    render_dataset_table(df, snakemake.output.tex)
    print(df.to_string())
    cards = write_dataset_cards(df, returns, published, snakemake.output.cards_csv, snakemake.output.cards_tex,
                                figures, og_marl_cards(snakemake.input.og_marl_cards))
    write_card_files(cards, returns, metadata, card_files)
    print(cards.to_string())

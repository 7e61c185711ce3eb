"""Snakemake script: every run's metrics and curve into results/scores.csv."""

from pathlib import Path

from analysis.aggregate import aggregate, run_key
from envs.files import atomic_path
from pipeline.logs import log_to
from pipeline.paths import paths_for

with log_to(snakemake.log[0]):
    paths = paths_for(snakemake.config)

    def dataset_of(metrics_path):
        """The dataset a run's metrics.json belongs to, by its run directory's key."""
        key = run_key(Path(metrics_path))
        return paths.dataset(key["suite"], key["task"], key["quality"])

    df = aggregate(snakemake.params.metrics, datasets=dataset_of)
    with atomic_path(snakemake.output[0]) as tmp:
        df.to_csv(tmp, index=False)
    print(f"{df[df.is_final].shape[0]} runs, {len(df)} evaluations")

"""Snakemake script: a learning-curve figure per (suite, task, quality): mean and +- std band
over seeds of every evaluation, one line per algorithm, from results/<profile>/scores.csv
(which holds every run's curve.csv)."""
import pandas as pd

from analysis.figures import curve_frame, plot_learning_curve
from pipeline.grid import canonical_algorithm
from pipeline.logs import log_to

p = snakemake.params
with log_to(snakemake.log[0]):
    scores = pd.read_csv(snakemake.input[0])
    algorithms = [canonical_algorithm(a) for a in p.algorithms]
    for (suite, task, quality), out in zip(p.cells, snakemake.output, strict=False):
        frame = curve_frame(scores, suite, task, quality)
        seeds = int(frame["count"].max()) if len(frame) else 0
        plot_learning_curve(frame, suite, f"{suite} {task} ({quality}), {seeds} seeds", out, algorithms)
        print(f"{out}: {frame['algorithm'].nunique()} algorithms, {frame['step'].nunique()} evaluations")

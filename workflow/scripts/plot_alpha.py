"""Snakemake script: Figure 1 (ComaDICE against alpha) as PDF and PNG."""
import pandas as pd

from analysis.figures import alpha_frame, plot_alpha
from pipeline.logs import log_to

p = snakemake.params
with log_to(snakemake.log[0]):
    scores = pd.read_csv(snakemake.input[0])
    frame = alpha_frame(scores, dict(p.alpha_variants), list(p.suites))
    grades = ", ".join(sorted(scores["dataset_grade"].dropna().unique()))
    plot_alpha(frame, snakemake.output.pdf, snakemake.output.png,
               note=f"datasets: {grades}-grade; backend: "
                    + ", ".join(sorted(scores["backend"].dropna().unique())))
    print(frame.groupby(["suite", "alpha"])["value"].agg(["mean", "std", "count"]))

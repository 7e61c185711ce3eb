"""Snakemake script: Figure 1 (ComaDICE against alpha) as PDF and PNG."""
import pandas as pd

from analysis.figures import alpha_frame, plot_alpha
from analysis.grid import variant_for
from analysis.logs import log_to

p = snakemake.params  # noqa: F821
with log_to(snakemake.log[0]):  # noqa: F821
    scores = pd.read_csv(snakemake.input[0])  # noqa: F821
    variants = {a: variant_for(snakemake.config,  # noqa: F821
                              "alpha", a) for a in p.ablations["alpha"]}
    frame = alpha_frame(scores, variants, p.ablations["suites"])
    grades = ", ".join(sorted(scores["dataset_grade"].dropna().unique()))
    plot_alpha(frame, snakemake.output.pdf, snakemake.output.png,  # noqa: F821
               note=f"datasets: {grades}-grade; backend: "
                    + ", ".join(sorted(scores["backend"].dropna().unique())))
    print(frame.groupby(["suite", "alpha"])["value"].agg(["mean", "std", "count"]))

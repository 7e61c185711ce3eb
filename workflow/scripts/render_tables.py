"""Snakemake script: Tables 1-3 (win rates / returns), the SMAC returns, the final-evaluation
tables, the ablation tables and the paper side by side, as LaTeX and CSV."""
import pandas as pd

from analysis.logs import log_to
from algorithms import algorithm_class
from analysis.grid import variant_for
from analysis.paths import paths_for
from analysis.tables import Column, SUITE_TITLES, algorithm_columns, render, render_comparison

TABLE_NAMES = {"smacv1": "table1_smacv1", "smacv2": "table2_smacv2", "mamujoco": "table3_mamujoco"}
out = snakemake.output  # noqa: F821
p = snakemake.params  # noqa: F821
config = snakemake.config  # noqa: F821
P = paths_for(config)  # reports/<profile>/

with log_to(snakemake.log[0]):  # noqa: F821
    scores = pd.read_csv(snakemake.input[0])  # noqa: F821
    algos = algorithm_columns([algorithm_class(a).name for a in p.algorithms])
    for suite in p.suites:
        name = TABLE_NAMES[suite]
        render(scores, [suite], algos, P.report(f"{name}.tex"), P.report(f"{name}.csv"),
               title=SUITE_TITLES[suite], label=f"tab:{suite}")
        if suite != "mamujoco":  # the paper's appendix also gives SMAC returns
            render(scores, [suite], algos, P.report(f"{name}_returns.tex"), P.report(f"{name}_returns.csv"),
                   title=f"{SUITE_TITLES[suite]} returns", label=f"tab:{suite}-returns", metric="return_mean",
                   decimals=2)
        if p.final_eval:
            metric = "final_win_rate_pct" if suite != "mamujoco" else "final_return_mean"
            render(scores, [suite], algos, P.report(f"{name}_final_eval.tex"), P.report(f"{name}_final_eval.csv"),
                   title=f"{SUITE_TITLES[suite]}, final evaluation", label=f"tab:{suite}-final", metric=metric)
        print(f"wrote {P.report(name)}.tex")
    abl = p.ablations
    if abl.get("f_divergence"):
        labels = {"kl": "KL", "chi2": "$\\chi^2$", "soft_chi2": "soft-$\\chi^2$"}
        cols = [Column(labels[v], "ComaDICE", variant_for(config, "f_divergence", v)) for v in abl["f_divergence"]]
        render(scores, abl["suites"], cols, P.report("ablation_fdiv.tex"), P.report("ablation_fdiv.csv"),
               title="ComaDICE with different f-divergences", label="tab:ablation-fdiv")
    if abl.get("mixer_layers"):
        cols = [Column(f"{v}-layer mixer", "ComaDICE", variant_for(config, "mixer_layers", v))
                for v in abl["mixer_layers"]]
        render(scores, abl["suites"], cols, P.report("ablation_mixer.tex"), P.report("ablation_mixer.csv"),
               title="ComaDICE with a 1-layer or 2-layer mixer", label="tab:ablation-mixer")
    render_comparison(scores, p.suites, [c.algorithm for c in algos], P.report("paper_vs_ours.tex"),
                      P.report("paper_vs_ours.csv"))
    print("wrote ablation and comparison tables")

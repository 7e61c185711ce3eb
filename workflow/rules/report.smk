# Runs -> one tidy table -> the paper's tables, its figure, the ablations and statistics.

TABLE_NAMES = {"smacv1": "table1_smacv1", "smacv2": "table2_smacv2", "mamujoco": "table3_mamujoco"}
ABLATIONS = config.get("ablations") or {}
FINAL_EVAL = config["train"].get("final_eval_episodes", 0) > 0


def table_outputs():
    out = []
    for s in SUITES:
        out += [f"reports/{TABLE_NAMES[s]}.tex", f"reports/{TABLE_NAMES[s]}.csv"]
        if s != "mamujoco":
            out += [f"reports/{TABLE_NAMES[s]}_returns.tex", f"reports/{TABLE_NAMES[s]}_returns.csv"]
        if FINAL_EVAL:
            out += [f"reports/{TABLE_NAMES[s]}_final_eval.tex", f"reports/{TABLE_NAMES[s]}_final_eval.csv"]
    if ABLATIONS.get("f_divergence"):
        out += ["reports/ablation_fdiv.tex", "reports/ablation_fdiv.csv"]
    if ABLATIONS.get("mixer_layers"):
        out += ["reports/ablation_mixer.tex", "reports/ablation_mixer.csv"]
    return out + ["reports/paper_vs_ours.tex", "reports/paper_vs_ours.csv"]


rule aggregate:
    input:
        [r.metrics for r in RUNS],
    output:
        report("results/scores.csv", caption="../report/scores.rst", category="Data"),
    log:
        "logs/report/aggregate.log",
    conda:
        "../envs/comadice.yaml"
    script:
        "../scripts/aggregate.py"


rule tables:
    input:
        "results/scores.csv",
    output:
        [report(f, caption="../report/table.rst", category="Tables") if f.endswith(".tex") else f
         for f in table_outputs()],
    params:
        suites=SUITES,
        algorithms=config["algorithms"],
        ablations=ABLATIONS,
        final_eval=FINAL_EVAL,
        config=config,
    log:
        "logs/report/tables.log",
    conda:
        "../envs/comadice.yaml"
    script:
        "../scripts/render_tables.py"


rule figure_alpha:
    input:
        "results/scores.csv",
    output:
        pdf="reports/figure1_alpha.pdf",
        png=report("reports/figure1_alpha.png", caption="../report/figure1.rst", category="Figures"),
    params:
        ablations=ABLATIONS,
        config=config,
    log:
        "logs/report/figure_alpha.log",
    conda:
        "../envs/comadice.yaml"
    script:
        "../scripts/plot_alpha.py"


rule statistics:
    input:
        "results/scores.csv",
    output:
        tex=report("reports/statistics.tex", caption="../report/statistics.rst", category="Tables"),
        csv="reports/statistics.csv",
    params:
        algorithms=config["algorithms"],
        suites=SUITES,
    log:
        "logs/report/statistics.log",
    conda:
        "../envs/comadice.yaml"
    script:
        "../scripts/statistics.py"


rule dataset_stats:
    input:
        [f"results/datasets/{s}/{t}/{q}.h5" for s, t, q in CELLS],
    output:
        tex=report("reports/dataset_statistics.tex", caption="../report/datasets.rst", category="Tables"),
        csv="reports/dataset_statistics.csv",
    log:
        "logs/report/dataset_stats.log",
    conda:
        "../envs/comadice.yaml"
    script:
        "../scripts/dataset_stats.py"


rule latex_check:
    input:
        rules.tables.output,
        "reports/statistics.tex",
        "reports/dataset_statistics.tex",
    output:
        "reports/latex_check.txt",
    log:
        "logs/report/latex_check.log",
    conda:
        "../envs/comadice.yaml"
    script:
        "../scripts/latex_check.py"


def report_targets():
    out = list(rules.tables.output) + ["reports/statistics.tex", "reports/dataset_statistics.tex",
                                       "reports/latex_check.txt"]
    if ABLATIONS.get("alpha"):
        out += ["reports/figure1_alpha.pdf", "reports/figure1_alpha.png"]
    return out

# Runs -> one tidy table -> the paper's tables, its figure, learning curves, the ablations and
# statistics, under reports/<profile>/.  Every rule here is local (Snakefile: localrules).


rule aggregate:
    input:
        training_outputs(),
    output:
        report(P.scores, caption="../report/scores.rst", category="Data"),
    log:
        P.log("report", "aggregate"),
    conda:
        "../envs/comadice.yaml"
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        metrics=[r.metrics for r in RUNS],
    script:
        "../scripts/aggregate.py"


rule tables:
    input:
        P.scores,
    output:
        **{
            name: (
                report(f, caption="../report/table.rst", category="Tables")
                if name.endswith("_tex")
                else f
            )
            for name, f in table_outputs().items()
        },
    log:
        P.log("report", "tables"),
    conda:
        "../envs/comadice.yaml"
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        # the tables (pipeline.report_plan.report_tables, as table_outputs names them) and the
        # paper side by side's suites and algorithms: a change reruns the rule
        tables=report_tables(config),
        comparison_suites=SUITES,
        comparison_algorithms=report_algorithms(config),
    script:
        "../scripts/render_tables.py"


rule figure_alpha:
    input:
        P.scores,
    output:
        pdf=P.report("figure1_alpha.pdf"),
        png=report(
            P.report("figure1_alpha.png"),
            caption="../report/figure1.rst",
            category="Figures",
        ),
    log:
        P.log("report", "figure_alpha"),
    conda:
        "../envs/comadice.yaml"
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        # alpha -> the variant whose runs hold it ("default" for ComaDICE's own alpha)
        alpha_variants={
            a: variant_for(config, "alpha", a) for a in ABLATIONS.get("alpha", [])
        },
        suites=ABLATIONS.get("suites", []),
    script:
        "../scripts/plot_alpha.py"


rule learning_curves:
    input:
        P.scores,
    output:
        [
            report(f, caption="../report/curves.rst", category="Learning curves")
            for f in curve_outputs()
        ],
    log:
        P.log("report", "learning_curves"),
    conda:
        "../envs/comadice.yaml"
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        cells=CELLS,
        algorithms=config["algorithms"],
    script:
        "../scripts/plot_curves.py"


rule statistics:
    input:
        P.scores,
    output:
        tex=report(
            P.report("statistics.tex"),
            caption="../report/statistics.rst",
            category="Tables",
        ),
        csv=P.report("statistics.csv"),
    log:
        P.log("report", "statistics"),
    conda:
        "../envs/comadice.yaml"
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        algorithms=config["algorithms"],
        suites=SUITES,
    script:
        "../scripts/statistics.py"


rule marl_eval:
    input:
        P.scores,
    output:
        report(
            P.report("marl_eval.json"),
            caption="../report/marl_eval.rst",
            category="Data",
        ),
    log:
        P.log("report", "marl_eval"),
    conda:
        "../envs/comadice.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    script:
        "../scripts/marl_eval.py"


rule performance_profiles:
    input:
        P.scores,
    output:
        [
            report(
                P.report(f"performance_profile_{s}.png"),
                caption="../report/performance_profiles.rst",
                category="Figures",
            )
            for s in SUITES
        ],
    log:
        P.log("report", "performance_profiles"),
    conda:
        "../envs/comadice.yaml"
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        # one figure per suite, in the outputs' order
        suites=SUITES,
        algorithms=config["algorithms"],
    script:
        "../scripts/plot_performance_profiles.py"


rule dataset_stats:
    input:
        datasets=[P.dataset(s, t, q) for s, t, q in CELLS],
        published=PUBLISHED_DATASETS,
        og_marl_cards=os.path.join(
            ROOT, "analysis", "data", "og_marl_dataset_cards.csv"
        ),
    output:
        tex=report(
            P.report("dataset_statistics.tex"),
            caption="../report/datasets.rst",
            category="Tables",
        ),
        csv=P.report("dataset_statistics.csv"),
        cards_tex=report(
            P.report("dataset_cards.tex"),
            caption="../report/dataset_cards_table.rst",
            category="Tables",
        ),
        cards_csv=P.report("dataset_cards.csv"),
        # one per dataset, in the order of the datasets above
        histograms=[
            report(
                P.dataset_card(s, t, q),
                caption="../report/dataset_cards.rst",
                category="Dataset cards",
            )
            for s, t, q in CELLS
        ],
        # each card as JSON beside its histogram, in the same order
        card_files=[P.dataset_card(s, t, q, "json") for s, t, q in CELLS],
    log:
        P.log("report", "dataset_stats"),
    conda:
        "../envs/comadice.yaml"
    resources:
        mem_mb=8000,
        runtime=30,
    script:
        "../scripts/dataset_stats.py"


rule behaviour_curves:
    input:
        curves=[
            f
            for f in (behaviour_curve_file(*c) for c in BEHAVIOUR_CURVES)
            if f is not None
        ],
        published=PUBLISHED_DATASETS,
    output:
        [
            report(f, caption="../report/behaviour_curves.rst", category="Behaviour")
            for f in behaviour_curve_outputs()
        ],
    log:
        P.log("report", "behaviour_curves"),
    conda:
        "../envs/comadice.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        # per figure (in the outputs' order): suite, task and its curve file ("" for none)
        tasks=[
            [s, t, behaviour_curve_file(s, t, k) or ""] for s, t, k in BEHAVIOUR_CURVES
        ],
        simulators=SIMULATORS,
    script:
        "../scripts/plot_behaviour_curves.py"


rule latex_check:
    input:
        rules.tables.output,
        P.report("statistics.tex"),
        P.report("dataset_statistics.tex"),
        P.report("dataset_cards.tex"),
    output:
        P.report("latex_check.txt"),
    log:
        P.log("report", "latex_check"),
    conda:
        "../envs/comadice.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    script:
        "../scripts/latex_check.py"

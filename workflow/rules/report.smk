# Runs -> one tidy table -> LaTeX tables in the paper's layout.


rule aggregate:
    input:
        [r.metrics for r in RUNS],
    output:
        "results/scores.csv",
    log:
        "logs/report/aggregate.log",
    conda:
        "../envs/comadice.yaml"
    script:
        "../scripts/aggregate.py"


TABLE_NAMES = {"smacv1": "table1_smacv1", "smacv2": "table2_smacv2", "mamujoco": "table3_mamujoco"}


rule tables:
    input:
        "results/scores.csv",
    output:
        [f"reports/{TABLE_NAMES[s]}.tex" for s in SUITES],
        [f"reports/{TABLE_NAMES[s]}.csv" for s in SUITES],
    params:
        suites=SUITES,
        algorithms=config["algorithms"],
        profile=config["profile"],
    log:
        "logs/report/tables.log",
    conda:
        "../envs/comadice.yaml"
    script:
        "../scripts/render_tables.py"

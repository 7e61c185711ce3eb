# Behaviour data -> one HDF5 dataset per (suite, task, quality).
# datasets.generator: "smoke" (SMAX heuristic + random actions; ARS on MaMuJoCo) or
# "paper" (a MAPPO learning run per task: SMAX checkpoints / replay; MaMuJoCo D4RL-style levels).

GENERATOR = config["datasets"].get("generator", "smoke")

wildcard_constraints:
    suite="smacv1|smacv2|mamujoco",
    quality="poor|medium|good|expert|medium-replay|medium-expert",


if GENERATOR == "smoke":

    rule smax_dataset:
        output:
            "results/datasets/{suite}/{task}/{quality}.h5",
        wildcard_constraints:
            suite="smacv1|smacv2",
        params:
            episodes=config["datasets"]["smax_episodes"],
        log:
            "logs/datasets/{suite}/{task}/{quality}.log",
        resources:
            mem_mb=4000,
        conda:
            "../envs/comadice.yaml"
        script:
            "../scripts/make_smax_dataset.py"

else:

    rule mappo_behaviour:
        output:
            run="results/behaviour/{suite}/{task}/mappo.pkl",
            curve="results/behaviour/{suite}/{task}/mappo_curve.csv",
        wildcard_constraints:
            suite="smacv1|smacv2",
        params:
            env_steps=config["datasets"].get("mappo_env_steps", 1_000_000),
            record=lambda w: config["datasets"]["smax_episodes"] if w.suite == "smacv2" else 0,
        log:
            "logs/behaviour/{suite}/{task}.log",
        threads: 1
        resources:
            mem_mb=8000,
        conda:
            "../envs/comadice.yaml"
        script:
            "../scripts/train_mappo.py"

    rule smax_dataset:
        input:
            "results/behaviour/{suite}/{task}/mappo.pkl",
        output:
            "results/datasets/{suite}/{task}/{quality}.h5",
        wildcard_constraints:
            suite="smacv1|smacv2",
        params:
            episodes=config["datasets"]["smax_episodes"],
            fractions=config["datasets"].get("smac_quality_fractions"),
        log:
            "logs/datasets/{suite}/{task}/{quality}.log",
        resources:
            mem_mb=8000,
        conda:
            "../envs/comadice.yaml"
        script:
            "../scripts/make_smax_dataset.py"


rule mamujoco_behaviour:
    output:
        "results/behaviour/mamujoco/{task}/run.pkl",
    params:
        generator=GENERATOR,
        iterations=config["datasets"]["ars_iterations"],
        env_steps=config["datasets"].get("mappo_env_steps", 1_000_000),
    log:
        "logs/behaviour/mamujoco/{task}.log",
    conda:
        "../envs/comadice.yaml"
    script:
        "../scripts/train_behaviour.py"


rule mamujoco_dataset:
    input:
        "results/behaviour/mamujoco/{task}/run.pkl",
    output:
        "results/datasets/mamujoco/{task}/{quality}.h5",
    params:
        episodes=config["datasets"]["mamujoco_episodes"],
    log:
        "logs/datasets/mamujoco/{task}/{quality}.log",
    conda:
        "../envs/comadice.yaml"
    script:
        "../scripts/make_mamujoco_dataset.py"


ruleorder: mamujoco_dataset > smax_dataset

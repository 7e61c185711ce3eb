# Behaviour data -> one HDF5 dataset per (suite, task, quality).

wildcard_constraints:
    suite="smacv1|smacv2|mamujoco",
    quality="poor|medium|good|expert|medium-replay|medium-expert",


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


rule mamujoco_behaviour:
    output:
        "results/behaviour/mamujoco/{task}/ars.pkl",
    params:
        iterations=config["datasets"]["ars_iterations"],
    log:
        "logs/behaviour/mamujoco/{task}.log",
    conda:
        "../envs/comadice.yaml"
    script:
        "../scripts/train_behaviour.py"


rule mamujoco_dataset:
    input:
        "results/behaviour/mamujoco/{task}/ars.pkl",
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

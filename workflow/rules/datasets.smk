# Behaviour data -> one HDF5 dataset per (suite, task, quality), under results/<profile>/.
# datasets.generator: "smoke" (SMAX heuristic + random actions; ARS on MaMuJoCo) or
# "paper" (a MAPPO learning run per task: SMACv1 return bands of its checkpoints' episodes, SMACv2
# its replay sample; MaMuJoCo D4RL-style levels).
# datasets.seed seeds every behaviour run and dataset rollout; datasets.mappo sizes the MAPPO runs.


wildcard_constraints:
    suite="|".join(KNOWN_SUITES),
    quality="poor|medium|good|expert|medium-replay|medium-expert",


if GENERATOR == "smoke":

    rule smax_dataset:
        output:
            P.dataset(),
        log:
            P.log("datasets", "{suite}/{task}/{quality}"),
        wildcard_constraints:
            suite="|".join(suites_of_kind("smac")),
        conda:
            "../envs/comadice.yaml"
        resources:
            mem_mb=4000,
            runtime=lambda w: dataset_runtime(config, w.suite),
        params:
            episodes=config["datasets"]["smax_episodes"],
            seed=config["datasets"]["seed"],
            simulators=SIMULATORS,
        script:
            "../scripts/make_smax_dataset.py"

else:

    rule mappo_behaviour:
        output:
            run=P.mappo_run(),
            curve=P.mappo_curve(),
        log:
            P.log("behaviour", "{suite}/{task}"),
        wildcard_constraints:
            suite="|".join(suites_of_kind("smac")),
        conda:
            "../envs/comadice.yaml"
        threads: 1
        resources:
            mem_mb=8000,
            runtime=lambda w: behaviour_runtime(config, w.suite, w.task),
        params:
            env_steps=lambda w: smax_env_steps(config, w.task),
            record=smax_record,
            seed=config["datasets"]["seed"],
            mappo=config["datasets"]["mappo"]["smax"],
            simulators=SIMULATORS,
        script:
            "../scripts/train_mappo.py"

    rule smax_dataset:
        input:
            P.mappo_run(),
        output:
            P.dataset(),
        log:
            P.log("datasets", "{suite}/{task}/{quality}"),
        wildcard_constraints:
            suite="|".join(suites_of_kind("smac")),
        conda:
            "../envs/comadice.yaml"
        resources:
            mem_mb=8000,
            runtime=lambda w: dataset_runtime(config, w.suite),
        params:
            episodes=config["datasets"]["smax_episodes"],
            seed=config["datasets"]["seed"],
            simulators=SIMULATORS,
        script:
            "../scripts/make_smax_dataset.py"


rule d4rl_behaviour:
    output:
        run=P.d4rl_behaviour(),
        curve=P.d4rl_curve(),
    log:
        P.log("behaviour", "{suite}/{task}"),
    wildcard_constraints:
        suite="|".join(suites_of_kind("d4rl")),
    conda:
        "../envs/comadice.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=lambda w: behaviour_runtime(config, w.suite),
    params:
        generator=GENERATOR,
        iterations=config["datasets"]["ars_iterations"],
        # datasets.mappo.mamujoco.env_steps, else the profile-wide datasets.mappo_env_steps
        env_steps=(config["datasets"].get("mappo") or {})
        .get("mamujoco", {})
        .get("env_steps", config["datasets"].get("mappo_env_steps", 1_000_000)),
        seed=config["datasets"]["seed"],
        mappo=config["datasets"]["mappo"]["mamujoco"] if GENERATOR == "paper" else {},
        simulators=SIMULATORS,
    script:
        "../scripts/train_behaviour.py"


rule d4rl_dataset:
    input:
        P.d4rl_behaviour(),
    output:
        P.dataset(),
    log:
        P.log("datasets", "{suite}/{task}/{quality}"),
    wildcard_constraints:
        suite="|".join(suites_of_kind("d4rl")),
    conda:
        "../envs/comadice.yaml"
    resources:
        mem_mb=8000,
        runtime=lambda w: dataset_runtime(config, w.suite),
    params:
        episodes=config["datasets"]["mamujoco_episodes"],
        seed=config["datasets"]["seed"],
        simulators=SIMULATORS,
    script:
        "../scripts/make_mamujoco_dataset.py"


ruleorder: d4rl_dataset > smax_dataset

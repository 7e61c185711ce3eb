# Behaviour data -> one HDF5 dataset per (suite, task, quality), under results/<profile>/.
# Rules by the suites' dataset kind (envs/suites.py; behaviour/smac_like/, behaviour/d4rl_like/):
# - SMAC-like (SMACv1, SMACv2): generator "smoke": smac_like_dataset plays SMAX's heuristic with
#   random actions; "paper": smac_like_behaviour (a JAX MAPPO learning run per task), then
#   smac_like_dataset (SMACv1 return bands of its checkpoints' episodes, SMACv2 its replay sample).
# - D4RL-like (MaMuJoCo): d4rl_like_behaviour (ARS for smoke, PyTorch MAPPO for paper), then
#   d4rl_like_dataset (D4RL-style levels from its checkpoints and replay).
# datasets.seed seeds every behaviour run and dataset rollout; datasets.{smac_like,d4rl_like}
# size the datasets and the runs.


wildcard_constraints:
    suite="|".join(KNOWN_SUITES),
    quality="poor|medium|good|expert|medium-replay|medium-expert",


if GENERATOR == "smoke":

    rule smac_like_dataset:
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
            episodes=config["datasets"]["smac_like"]["episodes"],
            seed=config["datasets"]["seed"],
            simulators=SIMULATORS,
        script:
            "../scripts/make_smac_like_dataset.py"

else:

    rule smac_like_behaviour:
        output:
            run=P.smac_like_run(),
            curve=P.smac_like_curve(),
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
            env_steps=lambda w: smac_like_env_steps(config, w.task),
            record=smac_like_record,
            seed=config["datasets"]["seed"],
            mappo=config["datasets"]["smac_like"]["mappo"],
            simulators=SIMULATORS,
        script:
            "../scripts/train_smac_like_behaviour.py"

    rule smac_like_dataset:
        input:
            P.smac_like_run(),
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
            episodes=config["datasets"]["smac_like"]["episodes"],
            seed=config["datasets"]["seed"],
            simulators=SIMULATORS,
        script:
            "../scripts/make_smac_like_dataset.py"


rule d4rl_like_behaviour:
    output:
        run=P.d4rl_like_run(),
        curve=P.d4rl_like_curve(),
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
        iterations=config["datasets"]["d4rl_like"]["ars_iterations"],
        env_steps=d4rl_like_env_steps(config),
        seed=config["datasets"]["seed"],
        mappo=config["datasets"]["d4rl_like"]["mappo"] if GENERATOR == "paper" else {},
        simulators=SIMULATORS,
    script:
        "../scripts/train_d4rl_like_behaviour.py"


rule d4rl_like_dataset:
    input:
        P.d4rl_like_run(),
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
        episodes=config["datasets"]["d4rl_like"]["episodes"],
        seed=config["datasets"]["seed"],
        simulators=SIMULATORS,
    script:
        "../scripts/make_d4rl_like_dataset.py"


ruleorder: d4rl_like_dataset > smac_like_dataset

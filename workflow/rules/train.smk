# Training: one job per run (train.members 1, the CPU's default), or one job per training
# program, several runs of a cell trained together (train.members > 1, a GPU's default).
# A run's result is its metrics.json, written last and atomically either way: a failed or
# killed job leaves none for the runs it did not finish, so the next invocation reruns exactly
# the runs without a result.  Only what changes a run's results is in its params
# (TRAIN_SETTINGS lacks device, threads and members), so changing those reruns nothing.


if MEMBERS == 1:

    rule train:
        input:
            dataset=P.dataset(),
        output:
            metrics=P.metrics(),
        log:
            P.log("train", RUN_ID),
        conda:
            TRAIN_ENV
        threads: config["train"].get("threads", 1)
        resources:
            mem_mb=lambda w: train_mem_mb(w.suite, w.task),
            runtime=lambda w: train_runtime(config, w.suite, w.task),
            # one GPU slot per run (device auto / cuda); the run picks its GPU with
            # harness.devices.pick_device, so concurrent runs spread over the machine's GPUs
            gpu=GPU,
        params:
            run=run_for,
            train=TRAIN_SETTINGS,
            length=lambda w: training_length(config, w.suite, w.task),
            # checksum of the sources the run executes (harness/provenance.py): a change reruns it
            code=lambda w: code_version(w.algorithm)["sources_sha256"],
            fail=is_failing,
            simulators=SIMULATORS,
        script:
            "../scripts/train.py"

else:

    # The runs' metrics.json are not this rule's outputs (Snakemake deletes a job's outputs
    # before it runs, which would retrain runs that have a result): the job leaves a record of
    # what it trained, and its params name the runs still without a result, so deleting one
    # run's metrics.json, or adding a seed, reruns its program's job for exactly those runs
    # (and a finished program's job is not run again: pipeline/grid.py program_schedule).
    rule train_program:
        input:
            dataset=P.dataset(),
        output:
            program=P.program(),
        log:
            P.log("train", PROGRAM_ID),
        conda:
            TRAIN_ENV
        threads: config["train"].get("threads", 1)
        resources:
            mem_mb=lambda w: train_mem_mb(w.suite, w.task),
            runtime=lambda w: program_runtime(w),
            gpu=GPU,
        params:
            runs=lambda w: program_for(w).runs,
            schedule=lambda w: schedule(program_for(w)),
            schedule_file=lambda w: P.program_schedule(program_for(w).id),
            train=TRAIN_SETTINGS,
            length=lambda w: training_length(config, w.suite, w.task),
            code=lambda w: code_version(w.algorithm)["sources_sha256"],
            fail=lambda w: [
                r.id
                for r in program_for(w).runs
                if r.id in config.get("fail_runs", [])
            ],
            simulators=SIMULATORS,
        script:
            "../scripts/train_program.py"

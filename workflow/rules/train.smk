# One training run per (suite, task, quality, algorithm, variant, seed).
# metrics.json is written last and atomically: a failed run leaves no output, so the
# next invocation reruns exactly the failed runs.  Only what changes a run's results is in
# its params (TRAIN_SETTINGS lacks device and threads), so changing those reruns nothing.


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

# One training run per (suite, task, quality, algorithm, variant, seed).
# metrics.json is written last and atomically: a failed run leaves no output, so the
# next invocation reruns exactly the failed runs.


def run_for(w):
    key = f"{w.suite}/{w.task}/{w.quality}/{w.algorithm}/{w.variant}/seed{w.seed}"
    if key not in RUN_INDEX:
        raise ValueError(f"run {key} is not in the config's grid")
    return RUN_INDEX[key]


rule train:
    input:
        dataset="results/datasets/{suite}/{task}/{quality}.h5",
    output:
        metrics="results/runs/{suite}/{task}/{quality}/{algorithm}/{variant}/seed{seed}/metrics.json",
    params:
        run=run_for,
        train=config["train"],
        fail=lambda w: f"{w.suite}/{w.task}/{w.quality}/{w.algorithm}/{w.variant}/seed{w.seed}"
        in config.get("fail_runs", []),
    log:
        "logs/train/{suite}/{task}/{quality}/{algorithm}/{variant}/seed{seed}.log",
    threads: config["train"].get("threads", 1)
    resources:
        mem_mb=4000,
        gpu=lambda w: 1 if str(config["train"].get("device", "cpu")).startswith("cuda") else 0,
    conda:
        "../envs/comadice.yaml"
    script:
        "../scripts/train.py"

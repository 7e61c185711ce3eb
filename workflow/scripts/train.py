"""Snakemake script: one training run (see harness/train.py for the run directory)."""
import os

from harness.train import RunConfig, RunHooks, train
from pipeline.logs import log_to
from pipeline.stale_runs import set_aside, stale_runs

run = snakemake.params.run
tcfg = snakemake.params.train
cfg = RunConfig(
    dataset=snakemake.input.dataset, algorithm=run.algorithm, seed=run.seed,
    variant=run.variant, hyperparameters=run.hyperparameters,
    n_updates=snakemake.params.length.get("n_updates"),
    epochs=snakemake.params.length.get("epochs"), batch_size=tcfg["batch_size"], n_evals=tcfg["n_evals"],
    eval_episodes=tcfg["eval_episodes"], final_eval_episodes=tcfg.get("final_eval_episodes", 0),
    # an execution setting, so the one value read from the config rather than the rule's params:
    # a param change reruns the job, and changing the device must rerun nothing
    device=snakemake.config["train"].get("device", "auto"), threads=snakemake.threads,
    task=f"{run.suite}/{run.task}", quality=run.quality,  # the dataset must be of this cell
    # the simulators the task runs on (backend, observation layout): the dataset must have been made so
    simulators=snakemake.params.simulators,
)


def fail_before_metrics(metrics):
    raise RuntimeError("run configured to fail (fail_runs) before writing metrics.json")


# fail_runs (tests of the pipeline's rerun): the run dies where metrics.json would be written
hooks = RunHooks(before_metrics=fail_before_metrics) if snakemake.params.fail else None
#: trainings of one job while its dataset keeps being replaced, before the job gives up (and fails)
ATTEMPTS = 3

with log_to(snakemake.log[0]):
    for attempt in range(ATTEMPTS):
        train(cfg, os.path.dirname(snakemake.output.metrics), log=lambda s: print(s, flush=True), hooks=hooks)
        # a dataset replaced while the run trained (regenerated, imported over): the result is of
        # data no longer at the path, so it is set aside and the run trains again on the file there
        stale = stale_runs([(snakemake.output.metrics, snakemake.input.dataset)])
        if not stale:
            break
        moved = set_aside(stale[0])
        print(f"stale run: {stale[0].describe()} (the dataset was replaced while the run trained); "
              f"its result is set aside as {moved.name}", flush=True)
    else:
        raise RuntimeError(f"{snakemake.input.dataset} was replaced during each of {ATTEMPTS} trainings of "
                           f"{run.id}; rerun once the dataset stays in place")

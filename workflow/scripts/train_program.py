"""Snakemake script: the runs of one training program, trained together (harness/train.py
train_members), each into its own run directory; the runs that already have a result are left
as they are.  Writes the program's record (which runs it trained, how each ended) last."""
import json
import os

from envs.files import atomic_write_text
from harness.train import RunConfig, RunHooks, train_members
from pipeline.logs import log_to
from pipeline.stale_runs import set_aside, stale_runs

tcfg = snakemake.params.train
length = snakemake.params.length


def config_of(run):
    return RunConfig(
        dataset=snakemake.input.dataset, algorithm=run.algorithm, seed=run.seed,
        variant=run.variant, hyperparameters=run.hyperparameters,
        n_updates=length.get("n_updates"), epochs=length.get("epochs"), batch_size=tcfg["batch_size"],
        n_evals=tcfg["n_evals"], eval_episodes=tcfg["eval_episodes"],
        final_eval_episodes=tcfg.get("final_eval_episodes", 0),
        # execution settings, read from the config rather than the rule's params (see train.py)
        device=snakemake.config["train"].get("device", "auto"), threads=snakemake.threads,
        task=f"{run.suite}/{run.task}", quality=run.quality, simulators=snakemake.params.simulators)


def fail_before_metrics(metrics):
    if f"seed{metrics['seed']}" in failing_seeds.get(metrics["variant"], ()):
        raise RuntimeError("run configured to fail (fail_runs) before writing metrics.json")


failing_seeds = {}
for run in snakemake.params.runs:
    if run.id in snakemake.params.fail:
        failing_seeds.setdefault(run.variant, set()).add(f"seed{run.seed}")
hooks = RunHooks(before_metrics=fail_before_metrics) if failing_seeds else None
#: trainings of one job while its dataset keeps being replaced, before the job gives up (and fails)
ATTEMPTS = 3

with log_to(snakemake.log[0]):
    trained = []
    for attempt in range(ATTEMPTS):
        # the runs without a result now (not the params' list, which Snakemake computed earlier)
        todo = [r for r in snakemake.params.runs if not os.path.exists(r.metrics)]
        kept = [r.id for r in snakemake.params.runs if r not in todo]
        if kept:
            print(f"{len(kept)} of {len(snakemake.params.runs)} runs have a result and are not trained: "
                  + ", ".join(kept), flush=True)
        if not todo:
            break
        print(f"training {len(todo)} runs as one program: " + ", ".join(r.id for r in todo), flush=True)
        train_members([config_of(r) for r in todo], [os.path.dirname(r.metrics) for r in todo],
                      log=lambda s: print(s, flush=True), hooks=hooks)
        trained += [r.id for r in todo]
        # a dataset replaced while the runs trained: their results are of data no longer at the
        # path, so they are set aside and the runs train again on the file there
        stale = stale_runs([(r.metrics, snakemake.input.dataset) for r in todo])
        if not stale:
            break
        for s in stale:
            moved = set_aside(s)
            print(f"stale run: {s.describe()} (the dataset was replaced while it trained); its result is set "
                  f"aside as {moved.name}", flush=True)
    else:
        raise RuntimeError(f"{snakemake.input.dataset} was replaced during each of {ATTEMPTS} trainings; rerun once "
                           "the dataset stays in place")
    status = {}
    for r in snakemake.params.runs:
        with open(r.metrics) as f:
            status[r.id] = json.load(f).get("status")
    # the schedule this job ran with, read by the next DAG (pipeline/grid.py program_schedule);
    # then the record, the job's output, last
    atomic_write_text(snakemake.params.schedule_file, json.dumps(snakemake.params.schedule, indent=2))
    atomic_write_text(snakemake.output.program, json.dumps(
        {"program": snakemake.wildcards.program, "runs": [r.id for r in snakemake.params.runs],
         "trained_by_this_job": trained, "status": status}, indent=2))

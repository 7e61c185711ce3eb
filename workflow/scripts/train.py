"""Snakemake script: one training run (see harness/train.py for the run directory)."""
import os

from analysis.logs import log_to
from harness.train import RunConfig, train

run = snakemake.params.run  # noqa: F821
tcfg = snakemake.params.train  # noqa: F821
cfg = RunConfig(
    dataset=snakemake.input.dataset, algorithm=run.algorithm, seed=run.seed,  # noqa: F821
    variant=run.variant, hyperparameters=run.hyperparameters,
    n_updates=snakemake.params.length.get("n_updates"),  # noqa: F821
    epochs=snakemake.params.length.get("epochs"), batch_size=tcfg["batch_size"], n_evals=tcfg["n_evals"],
    eval_episodes=tcfg["eval_episodes"], final_eval_episodes=tcfg.get("final_eval_episodes", 0),
    # an execution setting, so not in the rule's params (changing it reruns nothing)
    device=snakemake.config["train"].get("device", "auto"), threads=snakemake.threads,  # noqa: F821
    task=f"{run.suite}/{run.task}", quality=run.quality,  # the dataset must be of this cell
    # the simulators the task runs on (backend, observation layout): the dataset must have been made so
    simulators=snakemake.config.get("simulators") or {},  # noqa: F821
    fail=snakemake.params.fail,  # noqa: F821
)
with log_to(snakemake.log[0]):  # noqa: F821
    train(cfg, os.path.dirname(snakemake.output.metrics), log=lambda s: print(s, flush=True))  # noqa: F821

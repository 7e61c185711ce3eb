"""Where every file of the pipeline lives: the one place the rules, the scripts and the tests
take their paths from.  Each profile (the config's ``profile`` key: smoke, mini, paper, ...)
has its own tree, so running one profile never touches another's datasets, runs or tables::

    results/<profile>/datasets/{suite}/{task}/{quality}.h5
    results/<profile>/behaviour/{suite}/{task}/mappo_run.npz, mappo_curve.csv   (SMAX MAPPO runs)
    results/<profile>/behaviour/{suite}/{task}/run.pt, curve.csv              (MaMuJoCo ARS / MAPPO)
    results/<profile>/runs/{suite}/{task}/{quality}/{algorithm}/{variant}/seed{seed}/
        config.yaml  curve.csv  checkpoint.pt  metrics.json  tb/ (TensorBoard events)
    results/<profile>/programs/{suite}/{task}/{quality}/{algorithm}/program{k}.json
                                (train.members > 1: what each training program's job trained)
    results/<profile>/programs/{suite}/{task}/{quality}/{algorithm}/program{k}.schedule.json
                                (the runs its last finished job was scheduled for: see program_schedule)
    results/<profile>/scores.csv
    reports/<profile>/<table, figure or check>
    reports/<profile>/behaviour/{suite}/{task}.png                              (behaviour learning curves)
    reports/<profile>/dataset_cards/{suite}_{task}_{quality}.png                (return histograms)
    logs/<profile>/{datasets,behaviour,train,report}/...log

A method called without arguments returns the Snakemake pattern (``{suite}`` etc. left as
wildcards); with arguments, the concrete path.  Nothing here imports torch or jax: the
Snakefile builds its job graph from it.
"""
from __future__ import annotations

from dataclasses import dataclass

RESULTS = "results"
REPORTS = "reports"
LOGS = "logs"

#: a run's key, as a pattern
RUN_ID = "{suite}/{task}/{quality}/{algorithm}/{variant}/seed{seed}"
#: a training program's key (several runs of one cell trained together), as a pattern
PROGRAM_ID = "{suite}/{task}/{quality}/{algorithm}/program{program}"


@dataclass(frozen=True)
class Paths:
    profile: str

    # roots ---------------------------------------------------------------------------
    @property
    def results(self) -> str:
        return f"{RESULTS}/{self.profile}"

    @property
    def reports(self) -> str:
        return f"{REPORTS}/{self.profile}"

    @property
    def logs(self) -> str:
        return f"{LOGS}/{self.profile}"

    # data ----------------------------------------------------------------------------
    def dataset(self, suite="{suite}", task="{task}", quality="{quality}") -> str:
        return f"{self.results}/datasets/{suite}/{task}/{quality}.h5"

    def smac_like_run(self, suite="{suite}", task="{task}") -> str:
        """The JAX MAPPO run whose checkpoints and replay make a SMAC-like suite's datasets (paper generator)."""
        return f"{self.results}/behaviour/{suite}/{task}/mappo_run.npz"

    def smac_like_curve(self, suite="{suite}", task="{task}") -> str:
        return f"{self.results}/behaviour/{suite}/{task}/mappo_curve.csv"

    def d4rl_like_run(self, suite="{suite}", task="{task}") -> str:
        """The ARS / MAPPO run whose checkpoints and replay make a D4RL-like suite's datasets."""
        return f"{self.results}/behaviour/{suite}/{task}/run.pt"  # behaviour/d4rl_like/run_file.py: no pickle.load

    def d4rl_like_curve(self, suite="{suite}", task="{task}") -> str:
        """That run's learning curve: one row per evaluation (iteration, env_steps, return_mean, ...)."""
        return f"{self.results}/behaviour/{suite}/{task}/curve.csv"

    # runs ----------------------------------------------------------------------------
    def run_dir(self, run_id: str = RUN_ID) -> str:
        return f"{self.results}/runs/{run_id}"

    def metrics(self, run_id: str = RUN_ID) -> str:
        return f"{self.run_dir(run_id)}/metrics.json"

    def curve(self, run_id: str = RUN_ID) -> str:
        return f"{self.run_dir(run_id)}/curve.csv"

    def program(self, program_id: str = PROGRAM_ID) -> str:
        """What a training program's job leaves when it ends: which of its runs it trained and how
        they ended (the runs' own results are their metrics.json, as for a run trained alone)."""
        return f"{self.results}/programs/{program_id}.json"

    def program_schedule(self, program_id: str) -> str:
        """The schedule a program's last finished job ran with (pipeline/grid.py program_schedule):
        beside the record, not a declared output, so Snakemake does not delete it before a job."""
        return f"{self.results}/programs/{program_id}.schedule.json"

    @property
    def scores(self) -> str:
        return f"{self.results}/scores.csv"

    # reports and logs ----------------------------------------------------------------
    def report(self, name: str) -> str:
        return f"{self.reports}/{name}"

    def behaviour_figure(self, suite="{suite}", task="{task}") -> str:
        """The behaviour learning-curve figure of a task."""
        return self.report(f"behaviour/{suite}/{task}.png")

    def dataset_card(self, suite="{suite}", task="{task}", quality="{quality}", ext="png") -> str:
        """The return histogram of a dataset's card (``ext="json"``: the card itself, beside it)."""
        return self.report(f"dataset_cards/{suite}_{task}_{quality}.{ext}")

    def log(self, *parts: str) -> str:
        """``log("train", RUN_ID)`` -> ``logs/<profile>/train/<run id>.log``."""
        return f"{self.logs}/" + "/".join(parts) + ".log"


def paths_for(config: dict) -> Paths:
    """The paths of a (validated) config: its ``profile`` names the tree."""
    return Paths(str(config.get("profile") or "default"))

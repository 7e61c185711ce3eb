"""reports/<profile>/marl_eval.json (analysis/marl_eval.py) is read by marl-eval's own loader
(id-marl-eval 0.0.4, installed with --no-deps by the Makefile: pyproject.toml's marl-eval extra),
and holds each run's evaluations and final evaluation as scores.csv has them."""
import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from marl_eval.utils.data_processing_utils import create_matrices_for_rliable, data_process_pipeline

from analysis.marl_eval import algorithm_name, marl_eval_data, write_marl_eval

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "reference"


@pytest.fixture(scope="module")
def scores():
    return pd.read_csv(REPORT / "scores.csv")


@pytest.fixture(scope="module")
def raw(scores, tmp_path_factory):
    path = tmp_path_factory.mktemp("marl_eval") / "marl_eval.json"
    left_out = write_marl_eval(scores, path)
    # in the reference results ComaDICE at alpha 0.01 diverged on 3 of its 12 MaMuJoCo runs, ICQ on 8 of 12
    assert left_out == ["ComaDICE-alpha0.01 left out of mamujoco: 3 run(s) diverged "
                        "(mamujoco/Hopper_3x1/expert/ComaDICE/alpha0.01/seed2, "
                        "mamujoco/Hopper_3x1/medium/ComaDICE/alpha0.01/seed1, "
                        "mamujoco/Hopper_3x1/medium-expert/ComaDICE/alpha0.01/seed2)",
                        "ICQ left out of mamujoco: 8 run(s) diverged "
                        "(mamujoco/Hopper_3x1/expert/ICQ/default/seed0, mamujoco/Hopper_3x1/expert/ICQ/default/seed1, "
                        "mamujoco/Hopper_3x1/expert/ICQ/default/seed2, mamujoco/Hopper_3x1/medium/ICQ/default/seed2, "
                        "mamujoco/Hopper_3x1/medium-expert/ICQ/default/seed1, "
                        "mamujoco/Hopper_3x1/medium-expert/ICQ/default/seed2, "
                        "mamujoco/Hopper_3x1/medium-replay/ICQ/default/seed1, "
                        "mamujoco/Hopper_3x1/medium-replay/ICQ/default/seed2)"]
    # the committed reference's marl_eval.json is this file, regenerated from the committed scores
    assert path.read_bytes() == (REPORT / "marl_eval.json").read_bytes()
    return json.loads(path.read_text())


def test_the_layout_is_og_marls_json_writer(raw, scores):
    assert list(raw) == ["mamujoco", "smacv1", "smacv2"]
    assert set(raw["smacv1"]) == {"5m_vs_6m_good", "5m_vs_6m_medium"}
    hopper = raw["mamujoco"]["Hopper_3x1_expert"]
    assert {"ComaDICE", "ComaDICE-alpha1", "BC"} <= set(hopper)
    run = hopper["ComaDICE"]["seed_0"]
    n_evals = int(scores[(scores.algorithm == "ComaDICE") & (scores.variant == "default") & (scores.seed == 0)
                         & (scores.task == "Hopper_3x1") & (scores.quality == "expert")].shape[0])
    assert list(run) == ["absolute_metrics"] + [f"step_{k}" for k in range(n_evals)]
    assert set(run["step_0"]) == {"step_count", "episode_return"}         # no win rate on MaMuJoCo
    smac = raw["smacv1"]["5m_vs_6m_good"]["BC"]["seed_1"]
    assert set(smac["absolute_metrics"]) == {"episode_return", "win_rate"}
    assert all(len(v) == 1 for k, v in smac["step_0"].items() if k != "step_count")   # one-element lists
    assert all(0.0 <= smac[s]["win_rate"][0] <= 1.0 for s in smac)


def test_the_values_are_the_runs_evaluations(raw, scores):
    rows = scores[(scores.suite == "smacv2") & (scores.task == "zerg_5_vs_5") & (scores.algorithm == "OMIGA")
                  & (scores.seed == 2)].sort_values("step")
    run = raw["smacv2"]["zerg_5_vs_5_medium"]["OMIGA"]["seed_2"]
    last = rows.iloc[-1]
    assert run["absolute_metrics"] == {"episode_return": [last.final_return_mean],
                                       "win_rate": [last.final_win_rate_pct / 100]}
    for k, r in enumerate(rows.itertuples()):
        assert run[f"step_{k}"] == {"step_count": r.step, "episode_return": [r.return_mean],
                                    "win_rate": [r.win_rate_pct / 100]}


def test_marl_evals_loader_reads_it(raw, scores):
    processed = data_process_pipeline(raw_data=copy.deepcopy(raw), metrics_to_normalize=["episode_return"])
    # the pipeline prints an error and returns the raw data unprocessed when it cannot read them
    assert "extra" in processed, "marl-eval's data_process_pipeline did not process the file"
    assert sorted(processed["extra"]["environment_list"]) == ["mamujoco", "smacv1", "smacv2"]
    final = scores[scores["is_final"]]
    for env in raw:
        absolute, per_step = create_matrices_for_rliable(data_dictionary=copy.deepcopy(processed),
                                                         environment_name=env,
                                                         metrics_to_normalize=["episode_return"])
        tasks = list(raw[env])
        algorithms = list(raw[env][tasks[0]])
        wanted = {"mean_norm_episode_return", "mean_episode_return"} | ({"mean_win_rate"} if env != "mamujoco"
                                                                       else set())
        assert set(absolute) == wanted
        runs = list(raw[env][tasks[0]][algorithms[0]])
        for algo in algorithms:
            m = absolute["mean_episode_return"][algo.lower()]
            assert m.shape == (len(runs), len(tasks))
            for j, task in enumerate(tasks):
                for i, run in enumerate(runs):
                    name, variant = (algo.split("-", 1) + ["default"])[:2]
                    row = final[(final.suite == env) & (final.task + "_" + final.quality == task)
                                & (final.algorithm == name) & (final.variant == variant)
                                & (final.seed == int(run.removeprefix("seed_")))]
                    assert m[i, j] == pytest.approx(row.final_return_mean.item())
            norm = absolute["mean_norm_episode_return"][algo.lower()]
            assert (norm >= 0).all() and (norm <= 1).all()
            assert per_step["mean_episode_return"][algo.lower()].ndim == 3


def test_an_algorithm_with_a_diverged_run_is_left_out_of_its_environment(scores):
    s = scores.copy()
    run = (s.suite == "smacv1") & (s.algorithm == "BC") & (s.seed == 0) & (s.quality == "good")
    s.loc[run, "status"] = "diverged"
    s.loc[run, ["win_rate_pct", "return_mean", "final_win_rate_pct", "final_return_mean"]] = np.nan
    data, left_out = marl_eval_data(s[(s.variant != "alpha0.01") & ~((s.suite == "mamujoco") & (s.algorithm == "ICQ"))])
    # marl-eval reads every algorithm on the runs of the first: BC leaves smacv1 as a whole
    assert left_out == ["BC left out of smacv1: 1 run(s) diverged (smacv1/5m_vs_6m/good/BC/default/seed0)"]
    assert all("BC" not in algos for algos in data["smacv1"].values())
    assert "BC" in data["smacv2"]["zerg_5_vs_5_medium"]


def test_algorithm_names():
    assert algorithm_name("ComaDICE", "default") == "ComaDICE"
    assert algorithm_name("ComaDICE", "alpha0.01") == "ComaDICE-alpha0.01"
    with pytest.raises(ValueError, match="comma"):
        algorithm_name("A,B", "default")

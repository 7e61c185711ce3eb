"""The training loop: resuming bit for bit, divergence recorded (never tabulated), epochs."""
import hashlib
import json

import numpy as np
import pytest
import torch

from behaviour.d4rl_like.ars import train_ars
from behaviour.d4rl_like.datasets import mamujoco_from_ars
from behaviour.smac_like.heuristic import collect_smax
from envs.dataset import write_dataset
from envs.registry import get_task
from harness.train import RESUME_FILE, RunConfig, RunHooks, divergence, resolve_device, train, updates_for


@pytest.fixture(scope="module")
def smax_dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "medium.h5"
    write_dataset(collect_smax(get_task("smacv2/protoss_5_vs_5"), "medium", 8, seed=0), path)
    return str(path)


@pytest.fixture(scope="module")
def hopper_dataset(tmp_path_factory):
    task = get_task("mamujoco/Hopper_3x1")
    run = train_ars(task, iterations=2, directions=2, top=1, seed=0)
    path = tmp_path_factory.mktemp("data") / "medium-replay.h5"
    write_dataset(mamujoco_from_ars(task, "medium-replay", run, n_episodes=2, seed=0), path)
    return str(path)


def fail_after_evals(n, n_updates):
    """Hooks that stop a run after ``n`` evaluations (a test of resuming), unless it has finished."""
    def after_evaluation(step, curve):
        if len(curve) >= n and step < n_updates:
            raise RuntimeError(f"run configured to fail after {n} evaluations (a test of resuming)")
    return RunHooks(after_evaluation=after_evaluation)


def _digest(run_dir):
    return {name: hashlib.sha256((run_dir / name).read_bytes()).hexdigest()
            for name in ("metrics.json", "curve.csv", "checkpoint.pt")}


@pytest.mark.parametrize("algorithm,data", [("ComaDICE", "smax_dataset"), ("ComaDICE", "hopper_dataset"),
                                            ("CQL", "hopper_dataset")])
def test_a_resumed_run_is_bit_identical_to_an_uninterrupted_one(tmp_path, request, algorithm, data):
    dataset = request.getfixturevalue(data)
    base = dict(dataset=dataset, algorithm=algorithm, seed=3, n_updates=12, n_evals=4, eval_episodes=2,
                hyperparameters={"hidden": 16}, device="cpu")
    whole = tmp_path / "whole"
    train(RunConfig(**base), whole, log=lambda s: None)

    cut = tmp_path / "cut"
    with pytest.raises(RuntimeError, match="fail after 2 evaluations"):
        train(RunConfig(**base), cut, log=lambda s: None, hooks=fail_after_evals(2, base["n_updates"]))
    assert (cut / RESUME_FILE).exists() and not (cut / "metrics.json").exists()
    lines = []
    train(RunConfig(**base), cut, log=lines.append)
    assert any("resumed at step 6" in s for s in lines)
    assert not (cut / RESUME_FILE).exists()
    assert _digest(cut) == _digest(whole)


def test_a_resume_state_of_another_configuration_is_refused_and_the_run_restarts(tmp_path, smax_dataset):
    base = dict(dataset=smax_dataset, algorithm="BC", seed=0, n_updates=8, n_evals=4, eval_episodes=2,
                hyperparameters={"hidden": 16}, device="cpu")
    with pytest.raises(RuntimeError):
        train(RunConfig(**base), tmp_path, log=lambda s: None, hooks=fail_after_evals(1, base["n_updates"]))
    lines = []
    train(RunConfig(**{**base, "hyperparameters": {"hidden": 32}}), tmp_path, log=lines.append)
    assert any("of a different configuration (differs in hyperparameters)" in s for s in lines)
    assert not any("resumed at" in s for s in lines)


def test_divergence_bounds():
    assert divergence({"q_loss": 1.0, "nu_tot_mean": 5.0, "bc_weight_mean": 1.0, "bc_weight_ess": 0.5}, 100) is None
    assert "non-finite q_loss" in divergence({"q_loss": float("nan")}, 100)
    assert "nu_tot_mean" in divergence({"nu_tot_mean": 2000.0}, 100)
    assert "collapsed: mean" in divergence({"bc_weight_mean": 1e-9}, 100)
    assert "effective sample size" in divergence({"bc_weight_mean": 1.0, "bc_weight_ess": 0.001}, 100)
    # a critic's TD loss past (2 x 10 x bound)^2 = 4e6: ICQ on Hopper medium reached 6.6e21
    assert divergence({"q_loss": 3.9e6, "td_loss": 3.9e6}, 100) is None
    assert "q_loss = 6.6e+21 exceeds" in divergence({"q_loss": 6.6e21, "pi_loss": -2.2}, 100)
    assert "td_loss" in divergence({"td_loss": 4.1e6, "cql_penalty": 1.0}, 100)


def test_a_diverging_run_is_recorded_as_diverged_with_no_number(tmp_path, smax_dataset):
    # a learning rate of 10 blows the paper formulation's values up within a few updates
    cfg = RunConfig(dataset=smax_dataset, algorithm="ComaDICE", n_updates=40, n_evals=20, eval_episodes=2,
                    hyperparameters={"hidden": 16, "formulation": "paper", "lr": 10.0}, device="cpu")
    metrics = train(cfg, tmp_path, log=lambda s: None)
    assert metrics["status"] == "diverged" and metrics["win_rate"] is None and metrics["return_mean"] is None
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["status"] == "diverged" and on_disk["diverged_reason"]
    assert on_disk["diverged_step"] <= 40


def test_training_length_in_epochs_follows_the_datasets_size():
    cfg = RunConfig(dataset="x", algorithm="BC", epochs=25, batch_size=128)
    assert updates_for(cfg, 1_000_000) == 25 * (1_000_000 // 128)
    assert updates_for(RunConfig(dataset="x", algorithm="BC", n_updates=7, epochs=25), 10**6) == 7
    with pytest.raises(ValueError, match="n_updates or epochs"):
        updates_for(RunConfig(dataset="x", algorithm="BC"), 100)


def test_device_auto_and_a_clear_error_without_cuda():
    assert resolve_device("auto", log=lambda s: None) == "cpu"  # this machine has no GPU
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device: install jax\\[cuda12\\]"):
            resolve_device("cuda:1")


def test_comadice_diagnostics_are_in_the_curve(tmp_path, smax_dataset):
    cfg = RunConfig(dataset=smax_dataset, algorithm="ComaDICE", n_updates=4, n_evals=2, eval_episodes=2,
                    hyperparameters={"hidden": 16}, device="cpu")
    train(cfg, tmp_path, log=lambda s: None)
    header = (tmp_path / "curve.csv").read_text().splitlines()[0].split(",")
    for col in ("bc_weight_mean", "bc_weight_max", "bc_weight_ess", "nu_tot_mean", "q_loss", "lambda_v", "lambda_e"):
        assert col in header
    assert np.isfinite(json.loads((tmp_path / "metrics.json").read_text())["return_mean"])


def test_a_new_metric_is_its_metrics_entry_and_its_evaluation_value(tmp_path, smax_dataset, monkeypatch):
    """The loop writes every metric of the tables (envs/suites.py METRICS) from the evaluation's
    result to curve.csv and metrics.json, final evaluation included: no name is spelled in it."""
    import harness.run_outputs as outputs
    from envs import suites

    monkeypatch.setitem(suites.METRICS, "episode_length", suites.Metric("episode_length", "episode length", "length",
                                                                        source="length_mean"))
    real = outputs.evaluate

    def evaluate(task, policy, n_episodes, seed=0, venv=None):
        res = real(task, policy, n_episodes, seed=seed, venv=venv)
        return {**res, "length_mean": float(np.mean(res["lengths"]))}

    monkeypatch.setattr(outputs, "evaluate", evaluate)
    cfg = RunConfig(dataset=smax_dataset, algorithm="BC", n_updates=4, n_evals=2, eval_episodes=2,
                    final_eval_episodes=3, hyperparameters={"hidden": 16}, device="cpu")
    train(cfg, tmp_path, log=lambda s: None)
    header = (tmp_path / "curve.csv").read_text().splitlines()[0].split(",")
    assert {"win_rate", "return_mean", "length_mean"} <= set(header)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["length_mean"] > 0 and metrics["final_length_mean"] > 0


def test_members_of_one_program_each_have_their_run_and_a_diverged_one_stops_alone(tmp_path, smax_dataset):
    from harness.train import train_members
    base = dict(dataset=smax_dataset, algorithm="ComaDICE", n_updates=12, n_evals=3, eval_episodes=2, device="cpu")
    # lr 1e6 throws member 1's values out of any bound of the data's rewards within a few updates
    cfgs = [RunConfig(**base, seed=s, hyperparameters={"hidden": 16, "lr": lr}, variant=f"lr{lr:g}")
            for s, lr in ((0, 1e-4), (1, 1e6), (2, 1e-4))]
    dirs = [tmp_path / c.variant / f"seed{c.seed}" for c in cfgs]
    lines = []
    results = train_members(cfgs, dirs, log=lines.append)
    assert [r["status"] for r in results] == ["ok", "diverged", "ok"], [r.get("diverged_reason") for r in results]
    assert any("lr1e+06 seed1] DIVERGED" in s for s in lines), lines
    for d, r in zip(dirs, results, strict=False):
        saved = json.loads((d / "metrics.json").read_text())
        assert saved["seed"] == r["seed"] and (d / "curve.csv").exists() and (d / "checkpoint.pt").exists()
    # the others trained to the end, with every evaluation
    assert results[0]["n_evals"] == results[2]["n_evals"] == 3
    # and member 2 is the run it would have been alone
    alone = train(RunConfig(**base, seed=2, hyperparameters={"hidden": 16, "lr": 1e-4}, variant="lr0.0001"),
                  tmp_path / "alone", log=lambda s: None)
    assert alone["win_rate"] == results[2]["win_rate"] and alone["return_mean"] != None  # noqa: E711
    curve = (tmp_path / "alone" / "curve.csv").read_text().splitlines()
    ours = (dirs[2] / "curve.csv").read_text().splitlines()
    assert [row.split(",")[-1] for row in curve] == [row.split(",")[-1] for row in ours]  # the loss column

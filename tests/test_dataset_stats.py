"""The dataset-statistics table beside the published datasets (analysis/dataset_stats.py) and the
behaviour learning-curve figures (analysis/behaviour_curves.py): the published numbers are the
project's copy, joined by (suite, task, quality), and SMAC returns are compared on each scale's
fraction of its maximum."""
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.behaviour_curves import plot_behaviour_curve, published_levels, run_curve
from analysis.dataset_stats import (
    PUBLISHED,
    PUBLISHED_COLUMNS,
    dataset_table,
    published_datasets,
    render_dataset_table,
    with_published,
)
from analysis.latex import check_tables
from envs.dataset import from_episodes, write_dataset
from pipeline.report_plan import behaviour_curve_tasks

REPO = Path(__file__).resolve().parent.parent


def _published(suite, task, quality) -> pd.Series:
    pub = published_datasets()
    return pub[(pub.suite == suite) & (pub.task == task) & (pub.quality == quality)].iloc[0]


def test_the_project_copy_of_the_published_datasets():
    pub = published_datasets()
    assert PUBLISHED.parent == REPO / "analysis" / "data" and (PUBLISHED.parent / "README.md").exists()
    good = _published("smacv1", "5m_vs_6m", "good")
    assert (good.return_mean, good.return_std, good.trajectories, good.transitions) == (20.0, 0.0, 1000.0, 138700.0)
    expert = _published("mamujoco", "Hopper_3x1", "expert")
    assert expert.return_mean == 2452.0 and expert.transitions == 998900.0
    assert _published("mamujoco", "Hopper_3x1", "medium-replay").transitions == 1311000.0   # "1311K"
    assert _published("smacv2", "protoss_5_vs_5", "medium").return_mean == 16.8
    assert not pub.duplicated(["suite", "task", "quality"]).any()


def _ours(**over) -> dict:
    row = dict(suite="smacv1", task="5m_vs_6m", quality="good", trajectories=10, samples=100, agents=5,
               state_dim=132, obs_dim=140, action_dim=11, return_mean=1.0, return_std=0.1, win_rate_pct=40.0,
               backend="smax", approximation=True, grade="paper", behaviour="mappo-checkpoint")
    row.update(over)
    return row


def test_published_columns_are_joined_by_task_and_quality_on_each_scale():
    df = pd.DataFrame([
        _ours(return_mean=2.0, return_std=0.0, win_rate_pct=100.0),           # every episode won: SMAX's max
        _ours(quality="medium", return_mean=0.55),                            # published 11.0 of 20 = 0.55
        _ours(suite="smacv2", task="protoss_5_vs_5", quality="medium", backend="sc2", return_mean=8.4),
        _ours(suite="mamujoco", task="Hopper_3x1", quality="expert", return_mean=1226.0, return_std=10.0,
              win_rate_pct=np.nan, backend="mamujoco", approximation=False),
    ])
    out = with_published(df)
    assert list(out.columns) == list(df.columns) + PUBLISHED_COLUMNS
    good, medium, protoss, hopper = (out.iloc[i] for i in range(4))
    assert good.published_return_mean == 20.0 and good.published_return_std == 0.0
    assert good.return_of_max == 1.0 and good.published_return_of_max == 1.0 and good.ours_vs_published_pct == 100.0
    assert medium.published_return_mean == 11.0 and medium.return_of_max == pytest.approx(0.275)
    assert medium.ours_vs_published_pct == pytest.approx(50.0)
    # StarCraft II data are on SMAC's own scale (max 20): 8.4 / 20 against 16.8 / 20
    assert protoss.return_of_max == pytest.approx(0.42) and protoss.ours_vs_published_pct == pytest.approx(50.0)
    # MaMuJoCo: the returns themselves, no "of max"
    assert hopper.published_return_mean == 2452.0 and hopper.ours_vs_published_pct == pytest.approx(50.0)
    assert math.isnan(hopper.return_of_max) and math.isnan(hopper.published_return_of_max)
    assert hopper.published_source == "OMIGA datasets (HAPPO)"
    # idempotent: joining again changes nothing
    pd.testing.assert_frame_equal(with_published(out), out)


def test_a_dataset_without_a_published_row_shows_dashes(tmp_path):
    pub = published_datasets()
    pub = pub[~((pub.task == "5m_vs_6m") & (pub.quality == "good"))]
    out = with_published(pd.DataFrame([_ours(), _ours(quality="medium")]), pub)
    assert out.iloc[0][["published_return_mean", "published_transitions", "ours_vs_published_pct"]].isna().all()
    assert out.iloc[1].published_return_mean == 11.0
    tex = render_dataset_table(out, tmp_path / "d.tex")
    good_row = next(line for line in tex.splitlines() if line.startswith("5m\\_vs\\_6m") and "& good &" in line)
    assert good_row.endswith("& smax & -- & -- & -- & -- & -- \\\\")
    assert "no published dataset of that task and quality" in tex
    check_tables([tmp_path / "d.tex"])


def _smax_dataset(path, quality="good", episode_return=2.0, n=4):
    rng = np.random.default_rng(0)
    eps = []
    for _ in range(n):
        L = 5
        eps.append({"obs": rng.normal(size=(L + 1, 5, 4)), "state": rng.normal(size=(L + 1, 6)),
                    "reward": np.full(L, episode_return / L), "terminated": True,
                    "avail": np.ones((L + 1, 5, 3), bool), "actions": rng.integers(0, 3, size=(L, 5))})
    meta = {"suite": "smacv1", "task": "5m_vs_6m", "quality": quality, "backend": "smax", "grade": "paper",
            "approximation": True, "action_type": "discrete",
            "provenance": {"seed": 0, "win_rate": 1.0, "behaviour": "mappo-checkpoint"}}
    write_dataset(from_episodes(eps, meta), path)
    return path


def test_the_table_of_real_datasets_sets_each_beside_the_published_one(tmp_path):
    """A SMAX 'good' dataset whose every episode is won (return 2.0, SMAX's maximum) beside MADT's
    5m_vs_6m good (20.0 +- 0.0, SMAC's maximum): both at 1.00 of their maximum, ours 100% of it."""
    paths = [_smax_dataset(tmp_path / "good.h5"), _smax_dataset(tmp_path / "medium.h5", "medium", 0.55)]
    df = dataset_table(paths)
    assert list(df["quality"]) == ["medium", "good"]                           # the tables' row order
    good = df[df.quality == "good"].iloc[0]
    assert good.return_mean == pytest.approx(2.0) and good.win_rate_pct == 100.0
    assert good.published_return_mean == 20.0 and good.published_return_of_max == 1.0
    assert good.return_of_max == pytest.approx(1.0) and good.ours_vs_published_pct == pytest.approx(100.0)
    tex = render_dataset_table(df, tmp_path / "dataset_statistics.tex")
    assert ("& 2.00 $\\pm$ 0.00 & 1.00 & 100.0 & smax & 1.0 & 138.7 & 20.0 $\\pm$ 0.0 & 1.00 & 100 \\\\"
            in tex)
    assert "& 11.0 $\\pm$ 0.6 & 0.55 & 50 \\\\" in tex                         # medium: 0.275 of 0.55
    assert "at most 2.0 an episode" in tex and "SMAC's 0--20" in tex and "analyze.ipynb" in tex
    assert "MADT datasets via OMIGA (MAPPO)" in tex
    assert "v2" not in tex                                                     # no MaMuJoCo rows: no physics note
    check_tables([tmp_path / "dataset_statistics.tex"])


def test_the_caption_says_mamujoco_returns_are_comparable_in_kind(tmp_path):
    df = with_published(pd.DataFrame([_ours(suite="mamujoco", task="Hopper_3x1", quality="expert",
                                            return_mean=766.0, backend="mamujoco", win_rate_pct=np.nan)]))
    tex = render_dataset_table(df, tmp_path / "m.tex")
    assert "2452.0 $\\pm$ 1097.9 & -- & 31 \\\\" in tex
    assert "MuJoCo v5 robots, the published data's from v2" in tex and "OMIGA datasets (HAPPO)" in tex


# -- behaviour learning curves ------------------------------------------------------------------

def test_run_curve_of_an_ars_run_counts_the_training_steps_before_each_checkpoint():
    traj = lambda n: {"actions": [0] * n}
    run = {"checkpoints": [{"iteration": i, "return": 10.0 * i} for i in range(3)],
           "rollouts": [[traj(5), traj(7)], [traj(3), traj(3)]]}
    curve = run_curve(run)
    assert list(curve["env_steps"]) == [0, 12, 18] and list(curve["return_mean"]) == [0.0, 10.0, 20.0]
    mappo = {"curve": [{"iteration": 0, "env_steps": 0, "wall_s": 0.1, "win_rate": 0.0, "return_mean": 5.0}],
             "checkpoints": []}
    assert run_curve(mappo).to_dict("records") == mappo["curve"]


def test_published_levels_are_fractions_of_smac_max():
    pub = published_datasets()
    smac = published_levels(pub, "smacv1", "5m_vs_6m").set_index("quality")["level"]
    assert smac.to_dict() == pytest.approx({"poor": 0.425, "medium": 0.55, "good": 1.0})
    hopper = published_levels(pub, "mamujoco", "Hopper_3x1").set_index("quality")["level"]
    assert hopper["expert"] == 2452.0


def test_behaviour_curve_figures(tmp_path):
    pub = published_datasets()
    smac = pd.DataFrame({"iteration": [0, 1, 2], "env_steps": [0, 1000, 2000], "wall_s": [0, 1, 2],
                         "win_rate": [0.0, 0.2, 0.5], "return_mean": [0.4, 1.0, 1.5]})
    hopper = pd.DataFrame({"iteration": [0, 1], "env_steps": [0, 5000], "return_mean": [20.0, 900.0]})
    for name, curve, suite, task, backend in [("smac", smac, "smacv1", "5m_vs_6m", "smax"),
                                              ("none", None, "smacv2", "protoss_5_vs_5", "smax"),
                                              ("hopper", hopper, "mamujoco", "Hopper_3x1", "mamujoco")]:
        out = tmp_path / f"{name}.png"
        plot_behaviour_curve(curve, suite, task, pub, out, backend=backend)
        assert out.stat().st_size > 5_000, name


def test_a_behaviour_figure_per_task_of_every_profile():
    smoke = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    assert behaviour_curve_tasks(smoke) == [("smacv1", "5m_vs_6m", None), ("smacv2", "protoss_5_vs_5", None),
                                            ("mamujoco", "Hopper_3x1", "d4rl")]
    reference = yaml.safe_load((REPO / "config" / "reference.yaml").read_text())
    tasks = behaviour_curve_tasks(reference)
    assert len(tasks) == len({(s, t) for s, t, _ in tasks})                   # one per task, not per quality
    assert {k for s, _, k in tasks if s != "mamujoco"} == {"mappo"} and ("mamujoco", "Hopper_3x1", "d4rl") in tasks

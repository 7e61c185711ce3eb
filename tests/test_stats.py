"""analysis.stats (rliable's estimators) against small hand-computed examples, against rliable
called directly, and against the hand-written estimators it replaced on the reference scores."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rliable import library as rly
from rliable import metrics as rlm
from scipy.stats import mannwhitneyu, trim_mean

from analysis.stats import (
    aggregate_table,
    improvement_table,
    iqm_of_runs,
    performance_profiles,
    probability_of_improvement,
    probability_of_improvement_ci,
    stratified_bootstrap_ci,
)

ROOT = Path(__file__).resolve().parent.parent

# ----------------------------------------------------------------------------- IQM

def test_iqm_is_the_mean_of_the_middle_half():
    assert iqm_of_runs(np.arange(1, 9)) == pytest.approx(4.5)  # 8 values: drop 1, 2 and 7, 8 -> mean(3, 4, 5, 6)
    # 7 values: int(0.25 * 7) = 1 cut each side -> mean(2, 3, 4, 5, 6) = 4 (order does not matter)
    x7 = np.array([7.0, 1.0, 4.0, 2.0, 6.0, 3.0, 5.0])
    assert iqm_of_runs(x7) == pytest.approx(4.0)
    assert iqm_of_runs(x7) == pytest.approx(trim_mean(x7, 0.25))
    x10 = np.array([5.0, 1.0, 9.0, 2.0, 7.0, 3.0, 8.0, 4.0, 6.0, 100.0])  # 2 cut each side: mean(3..8) = 5.5
    assert iqm_of_runs(x10) == pytest.approx(5.5) == trim_mean(x10, 0.25)
    assert iqm_of_runs([[1.0, 2.0], [3.0, 4.0]]) == pytest.approx(2.5)  # a matrix is flattened


def test_iqm_of_runs_drops_nan():
    m = np.array([[1.0, 5.0], [np.nan, 6.0], [3.0, 7.0], [4.0, 8.0]])
    assert iqm_of_runs(m) == pytest.approx(trim_mean([1, 3, 4, 5, 6, 7, 8], 0.25))  # = mean(3..7) = 5
    assert np.isnan(iqm_of_runs([np.nan]))


# ----------------------------------------------------------------------------- probability of improvement

def test_probability_of_improvement_by_hand():
    # one task, x = {1, 2} vs y = {0, 2}; the 4 pairs:
    #   1 vs 0 -> 1,  1 vs 2 -> 0,  2 vs 0 -> 1,  2 vs 2 -> 0.5 (tie)   => (1 + 0 + 1 + 0.5) / 4 = 0.625
    x, y = np.array([[1.0], [2.0]]), np.array([[0.0], [2.0]])
    assert probability_of_improvement(x, y) == pytest.approx(0.625)
    # reversed: 0 vs 1 -> 0, 0 vs 2 -> 0, 2 vs 1 -> 1, 2 vs 2 -> 0.5 => 1.5 / 4
    assert probability_of_improvement(y, x) == pytest.approx(0.375)
    # two tasks are averaged with equal weight; the second is a sure win (5, 6 > 1, 2)
    x2, y2 = np.array([[1.0, 5.0], [2.0, 6.0]]), np.array([[0.0, 1.0], [2.0, 2.0]])
    assert probability_of_improvement(x2, y2) == pytest.approx((0.625 + 1.0) / 2)


def test_probability_of_improvement_unequal_runs_ties_and_nan():
    # 3 runs of x vs 2 of y: x = {1, 2, 3}, y = {2, 2}: 1 vs 2 -> 0, 0; 2 vs 2 -> .5, .5; 3 vs 2 -> 1, 1 => 3 / 6
    x, y = np.array([[1.0], [2.0], [3.0]]), np.array([[2.0], [2.0]])
    assert probability_of_improvement(x, y) == pytest.approx(0.5)
    # all tied: every pair counts one half
    assert probability_of_improvement(np.full((3, 2), 7.0), np.full((4, 2), 7.0)) == pytest.approx(0.5)
    assert probability_of_improvement(x, x) == pytest.approx(0.5)
    # a NaN run is dropped: same as x = {1, 2} vs y = {0, 2} above
    xn = np.array([[1.0], [np.nan], [2.0]])
    assert probability_of_improvement(xn, np.array([[0.0], [2.0]])) == pytest.approx(0.625)
    with pytest.raises(ValueError, match="same tasks"):
        probability_of_improvement(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="no .*run on task"):
        probability_of_improvement(np.array([[np.nan], [np.nan]]), np.ones((2, 1)))


def test_probability_of_improvement_is_mann_whitney_u_and_symmetric():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(5, 3)).astype(float)  # small integers: many ties
    y = rng.integers(0, 4, size=(4, 3)).astype(float)
    u = [mannwhitneyu(x[:, t], y[:, t]).statistic / (5 * 4) for t in range(3)]
    assert probability_of_improvement(x, y) == pytest.approx(np.mean(u))
    assert probability_of_improvement(x, y) + probability_of_improvement(y, x) == pytest.approx(1.0)


def test_probability_of_improvement_ci():
    rng = np.random.default_rng(1)
    x, y = rng.normal(0.5, 1, size=(5, 4)), rng.normal(0, 1, size=(6, 4))
    p, lo, hi = probability_of_improvement_ci(x, y, n_boot=500, seed=3)
    assert p == probability_of_improvement(x, y)
    assert 0.0 <= lo <= p <= hi <= 1.0 and lo < hi
    assert (p, lo, hi) == probability_of_improvement_ci(x, y, n_boot=500, seed=3)
    # x beats y on every run of every task: every resample gives 1
    assert probability_of_improvement_ci(y + 100, y, n_boot=100) == (1.0, 1.0, 1.0)


# ----------------------------------------------------------------------------- stratified bootstrap

def test_bootstrap_ci_contains_the_point_is_deterministic_and_shrinks():
    rng = np.random.default_rng(0)
    few = rng.normal(size=(5, 3))
    p, lo, hi = stratified_bootstrap_ci(few, n_boot=500, seed=1)
    assert p == pytest.approx(trim_mean(few, 0.25, axis=None))
    assert lo <= p <= hi
    assert (p, lo, hi) == stratified_bootstrap_ci(few, n_boot=500, seed=1)  # same seed, same interval
    assert (lo, hi) != stratified_bootstrap_ci(few, n_boot=500, seed=2)[1:]
    np.random.seed(11)
    stratified_bootstrap_ci(few, n_boot=50, seed=1)
    assert np.random.rand() == np.random.RandomState(11).rand()  # the caller's global stream is untouched
    many = rng.normal(size=(200, 3))
    _, lo2, hi2 = stratified_bootstrap_ci(many, n_boot=500, seed=1)
    assert hi2 - lo2 < (hi - lo) / 2  # ~ 1 / sqrt(runs): 5 -> 200 runs is ~6x narrower
    assert stratified_bootstrap_ci(np.full((4, 2), 3.0), n_boot=100) == (3.0, 3.0, 3.0)  # degenerate


def test_bootstrap_ci_by_hand():
    # 2 runs {0, 1} of one task, statistic = mean: a resample has mean 0, 0.5 or 1 with
    # probability 1/4, 1/2, 1/4, so the 2.5% and 97.5% quantiles are 0 and 1
    p, lo, hi = stratified_bootstrap_ci(np.array([[0.0], [1.0]]), np.mean, n_boot=2000, seed=0)
    assert (p, lo, hi) == (0.5, 0.0, 1.0)
    # at the 40% level the quantiles 30% and 70% both fall in the mass at 0.5
    assert stratified_bootstrap_ci(np.array([[0.0], [1.0]]), np.mean, n_boot=2000, ci=0.4) == (0.5, 0.5, 0.5)


def test_bootstrap_is_stratified_by_task():
    # task 0 always scores 0, task 1 always 1: resampling runs within each task keeps 2 zeros
    # and 2 ones in every replicate, so the mean is 0.5 exactly (pooling the runs of both
    # tasks before resampling would not)
    m = np.array([[0.0, 1.0], [0.0, 1.0]])
    assert stratified_bootstrap_ci(m, np.mean, n_boot=300) == (0.5, 0.5, 0.5)


def test_bootstrap_default_iqm_matches_callable_and_handles_missing_runs():
    rng = np.random.default_rng(4)
    m = rng.normal(size=(5, 3))
    m[1, 0] = m[4, 2] = np.nan  # two missing runs: tasks of 4, 5 and 4 runs
    fast = stratified_bootstrap_ci(m, None, n_boot=200, seed=7)
    slow = stratified_bootstrap_ci(m, iqm_of_runs, n_boot=200, seed=7)  # NaN stays NaN in replicates
    assert fast == pytest.approx(slow)
    assert np.isfinite(fast).all() and fast[1] <= fast[0] <= fast[2]
    with pytest.raises(ValueError, match="no .*run on task"):
        stratified_bootstrap_ci(np.array([[1.0, np.nan], [2.0, np.nan]]))
    with pytest.raises(ValueError, match="ci"):
        stratified_bootstrap_ci(m, ci=95)


# ----------------------------------------------------------------------------- tidy tables

def _frame(scores=None):
    """A: t1 {1, 3}, t2 {3, 5};  B: t1 {0, 2}, t2 {1, 1} (seed 0 then seed 1)."""
    scores = scores or {"A": [[1, 3], [3, 5]], "B": [[0, 1], [2, 1]]}
    rows = []
    for algo, per_seed in scores.items():
        for seed, per_task in enumerate(per_seed):
            for task, s in zip(("t1", "t2"), per_task, strict=False):
                rows.append({"algorithm": algo, "task": task, "seed": seed, "score": float(s)})
    return pd.DataFrame(rows)


def test_aggregate_table_by_hand():
    agg = aggregate_table(_frame(), n_boot=200)
    assert list(agg.columns) == ["n_runs", "mean", "std", "iqm", "iqm_low", "iqm_high"]
    assert list(agg.index) == ["A", "B"]
    # A's runs {1, 3, 3, 5}: mean 3; population std (ddof=0) = sqrt((4 + 0 + 0 + 4) / 4) = sqrt(2);
    # IQM = mean of the middle two {3, 3} = 3
    a = agg.loc["A"]
    assert a["n_runs"] == 4 and a["mean"] == pytest.approx(3.0) and a["std"] == pytest.approx(np.sqrt(2.0))
    assert a["iqm"] == pytest.approx(3.0) and a["iqm_low"] <= 3.0 <= a["iqm_high"]
    # B's runs {0, 2, 1, 1}: mean 1, std sqrt((1 + 1 + 0 + 0) / 4) = sqrt(0.5), IQM mean(1, 1) = 1
    b = agg.loc["B"]
    assert b["mean"] == pytest.approx(1.0) and b["std"] == pytest.approx(np.sqrt(0.5)) and b["iqm"] == 1.0
    # the sample std (ddof=1) on request: sqrt(8 / 3)
    assert aggregate_table(_frame(), n_boot=10, ddof=1).loc["A", "std"] == pytest.approx(np.sqrt(8.0 / 3.0))


def test_aggregate_table_drops_nan_and_counts_the_runs_used():
    df = _frame()
    # an extra seed of A whose score is NaN changes nothing but is not counted
    df2 = pd.concat([df, pd.DataFrame([{"algorithm": "A", "task": "t1", "seed": 2, "score": np.nan}])])
    assert aggregate_table(df2, n_boot=50).loc["A"].equals(aggregate_table(df, n_boot=50).loc["A"])
    # A's seed-1 run on t1 is NaN: runs used {1, 3, 5} -> n_runs 3, mean 3, std sqrt(8 / 3)
    df.loc[(df.algorithm == "A") & (df.task == "t1") & (df.seed == 1), "score"] = np.nan
    a = aggregate_table(df, n_boot=50).loc["A"]
    assert a["n_runs"] == 3 and a["mean"] == pytest.approx(3.0) and a["std"] == pytest.approx(np.sqrt(8.0 / 3.0))


def test_improvement_table_by_hand():
    imp = improvement_table(_frame(), "A", n_boot=200)
    assert list(imp.index) == ["B"] and list(imp.columns) == ["probability", "low", "high"]
    # t1: A {1, 3} vs B {0, 2}: 1>0, 1<2, 3>0, 3>2 -> 3/4;  t2: A {3, 5} vs B {1, 1}: 4/4
    assert imp.loc["B", "probability"] == pytest.approx((0.75 + 1.0) / 2)
    assert imp.loc["B", "low"] <= imp.loc["B", "probability"] <= imp.loc["B", "high"] <= 1.0
    rev = improvement_table(_frame(), "B", n_boot=10)
    assert rev.loc["A", "probability"] == pytest.approx(1 - 0.875)
    with pytest.raises(ValueError, match="'C' not in"):
        improvement_table(_frame(), "C", n_boot=10)


def test_a_missing_cell_is_an_error_naming_it():
    df = _frame()
    gone = df[~((df.algorithm == "B") & (df.task == "t2"))]
    with pytest.raises(ValueError, match="'B' has no runs on task 't2'"):
        aggregate_table(gone, n_boot=10)
    with pytest.raises(ValueError, match="'B' has no runs on task 't2'"):
        improvement_table(gone, "A", n_boot=10)
    # runs that exist but all have a NaN score are no runs either
    nan = df.copy()
    nan.loc[(nan.algorithm == "A") & (nan.task == "t1"), "score"] = np.nan
    with pytest.raises(ValueError, match=r"'A' has no runs on task 't1' \(2 run"):
        aggregate_table(nan, n_boot=10)


def test_duplicated_runs_and_missing_columns_are_errors():
    df = _frame()
    with pytest.raises(ValueError, match="duplicated"):
        aggregate_table(pd.concat([df, df.iloc[[0]]]), n_boot=10)
    with pytest.raises(ValueError, match="lacks column"):
        aggregate_table(df.drop(columns="seed"), n_boot=10)


# ----------------------------------------------------------------------------- rliable itself

def test_the_intervals_are_rliables_own_with_the_global_generator_seeded():
    rng = np.random.default_rng(5)
    m, other = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    np.random.seed(9)
    point, ci = rly.get_interval_estimates({"a": m}, lambda s: np.array([rlm.aggregate_iqm(s)]), reps=300)
    assert stratified_bootstrap_ci(m, n_boot=300, seed=9) == pytest.approx((point["a"][0], *ci["a"][:, 0]))
    np.random.seed(9)
    point, ci = rly.get_interval_estimates({"a,b": (m, other)}, rlm.probability_of_improvement, reps=300)
    assert probability_of_improvement_ci(m, other, n_boot=300, seed=9) == pytest.approx((point["a,b"],
                                                                                        *ci["a,b"][:, 0]))


def test_performance_profiles():
    taus = np.linspace(0.0, 1.0, 5)                       # 0, .25, .5, .75, 1
    a = np.array([[0.1, 0.6], [0.3, 0.9]])                # runs above tau: 4, 3, 2, 1, 0 of 4
    b = np.array([[0.0, 0.2], [np.nan, 0.4]])             # the missing run is left out: 2, 1, 0, 0, 0 of 3
    profiles, cis = performance_profiles({"A": a, "B": b}, taus, n_boot=200, seed=2)
    assert profiles["A"] == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0])
    assert profiles["B"] == pytest.approx([2 / 3, 1 / 3, 0.0, 0.0, 0.0])
    assert cis["A"].shape == (2, 5) and (cis["A"][0] <= profiles["A"] + 1e-12).all()
    again = performance_profiles({"A": a, "B": b}, taus, n_boot=200, seed=2)[1]
    assert all((again[k] == cis[k]).all() for k in cis)   # reproducible per seed
    # without missing runs the profile is rliable's own score distribution
    np.random.seed(2)
    own = rly.create_performance_profile({"A": a}, taus, reps=200)
    mine = performance_profiles({"A": a}, taus, n_boot=200, seed=2)
    assert (own[0]["A"] == mine[0]["A"]).all() and (own[1]["A"] == mine[1]["A"]).all()


def test_rliable_agrees_with_the_hand_written_estimators_on_the_reference_scores():
    """tests/data/statistics_handwritten_estimators.csv is the statistics table of the reference run of
    2026-12-03 (bab1689) from the numpy estimators rliable replaced; statistics_rliable_bab1689.csv the
    same table from rliable (its reports/reference/statistics.csv until that run was replaced), on the
    runs' final scores kept in reference_final_scores_bab1689.csv.  The point estimates are one
    definition; an interval endpoint differs by the Monte Carlo noise of 2000 replicates (two
    different random streams), at most a step of the replicates' lattice here (1/36 for P(X > Y)
    from 2 tasks of 3 seeds), so within 0.05 on scores and probabilities in [0, 1]."""
    from analysis.statistics_table import statistics_table

    data = ROOT / "tests" / "data"
    new = pd.read_csv(data / "statistics_rliable_bab1689.csv")
    old = pd.read_csv(data / "statistics_handwritten_estimators.csv")
    # the recorded rliable table is what rliable makes of those scores (SMACv1 regenerated: 20 s)
    scores = pd.read_csv(data / "reference_final_scores_bab1689.csv")
    smacv1 = statistics_table(scores, ["smacv1"], list(dict.fromkeys(new.algorithm)))
    recorded = new[new.suite == "smacv1"].reset_index(drop=True)
    for col in ("n_runs", "mean", "std", "iqm", "iqm_low", "iqm_high", "p_comadice_better_probability",
                "p_comadice_better_low", "p_comadice_better_high"):
        assert np.allclose(smacv1[col].astype(float), recorded[col].astype(float), rtol=0, atol=1e-12,
                           equal_nan=True), col
    assert (new[["suite", "algorithm", "n_runs"]] == old[["suite", "algorithm", "n_runs"]]).all().all()
    for col in ("mean", "std", "iqm", "p_comadice_better_probability"):
        assert np.allclose(new[col], old[col], rtol=0, atol=1e-12, equal_nan=True), col
    for col in ("iqm_low", "iqm_high", "p_comadice_better_low", "p_comadice_better_high"):
        assert np.allclose(new[col], old[col], rtol=0, atol=0.05, equal_nan=True), col
    assert not np.allclose(new["iqm_low"], old["iqm_low"], rtol=0, atol=1e-12)   # it is rliable's, not a copy

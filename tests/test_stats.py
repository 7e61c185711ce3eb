"""Statistics against small hand-computed examples."""
import numpy as np
import pandas as pd
import pytest
from scipy.stats import trim_mean

from analysis.stats import (aggregate_table, improvement_table, interquartile_mean, probability_of_improvement,
                            stratified_bootstrap_ci)


def test_iqm_is_the_mean_of_the_middle_half():
    assert interquartile_mean(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    x = np.array([5.0, 1.0, 9.0, 2.0, 7.0, 3.0, 8.0, 4.0, 6.0, 10.0])
    assert interquartile_mean(x) == pytest.approx(trim_mean(x, 0.25))


def test_probability_of_improvement_by_hand():
    # task 0: x = {1, 2} vs y = {0, 2}: pairs (1>0)=1, (1<2)=0, (2>0)=1, (2=2)=0.5 -> 2.5/4
    x, y = np.array([[1.0], [2.0]]), np.array([[0.0], [2.0]])
    assert probability_of_improvement(x, y) == pytest.approx(0.625)
    assert probability_of_improvement(x, y) + probability_of_improvement(y, x) == pytest.approx(1.0)
    assert probability_of_improvement(x, x) == pytest.approx(0.5)  # ties count one half
    # two tasks average: the second task is a sure win
    x2, y2 = np.array([[1.0, 5.0], [2.0, 6.0]]), np.array([[0.0, 1.0], [2.0, 2.0]])
    assert probability_of_improvement(x2, y2) == pytest.approx((0.625 + 1.0) / 2)


def test_bootstrap_ci_contains_the_point_is_deterministic_and_shrinks():
    rng = np.random.default_rng(0)
    few = rng.normal(size=(5, 3))
    p, lo, hi = stratified_bootstrap_ci(few, n_boot=500, seed=1)
    assert lo <= p <= hi
    assert (p, lo, hi) == stratified_bootstrap_ci(few, n_boot=500, seed=1)
    many = rng.normal(size=(200, 3))
    _, lo2, hi2 = stratified_bootstrap_ci(many, n_boot=500, seed=1)
    assert hi2 - lo2 < hi - lo
    assert stratified_bootstrap_ci(np.ones((4, 2)), n_boot=100)[1:] == (1.0, 1.0)  # degenerate


def _frame():
    rows = []
    for algo, scores in {"A": [[1, 3], [3, 5]], "B": [[0, 1], [2, 1]]}.items():
        for seed, per_task in enumerate(scores):
            for task, s in zip(("t1", "t2"), per_task):
                rows.append({"algorithm": algo, "task": task, "seed": seed, "score": float(s)})
    return pd.DataFrame(rows)


def test_aggregate_and_improvement_tables():
    agg = aggregate_table(_frame(), n_boot=200)
    assert agg.loc["A", "mean"] == pytest.approx(3.0) and agg.loc["A", "std"] == pytest.approx(np.std([1, 3, 3, 5]))
    assert agg.loc["A", "n_runs"] == 4
    imp = improvement_table(_frame(), "A", n_boot=200)
    # t1: A {1, 3} vs B {0, 2}: 1>0, 1<2, 3>0, 3>2 -> 3/4; t2: A {3, 5} vs B {1, 1}: 4/4
    assert imp.loc["B", "probability"] == pytest.approx((0.75 + 1.0) / 2)
    assert imp.loc["B", "low"] <= imp.loc["B", "probability"] <= imp.loc["B", "high"]


def test_a_missing_cell_is_an_error_naming_it():
    df = _frame()
    df = df[~((df.algorithm == "B") & (df.task == "t2"))]
    with pytest.raises(ValueError, match="'B' has no runs on task 't2'"):
        aggregate_table(df, n_boot=10)

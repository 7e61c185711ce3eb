"""The per-suite performance-profile figures (analysis/performance_profiles.py) profile the
statistics table's normalised scores."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.performance_profiles import TAUS, plot_suite_profiles
from analysis.statistics_table import normalised_final_scores

REPORT = Path(__file__).resolve().parent.parent / "reports" / "reference"


def test_a_suites_profiles_are_the_fractions_of_its_normalised_scores(tmp_path):
    scores = pd.read_csv(REPORT / "scores.csv")
    out = tmp_path / "performance_profile_smacv1.png"
    profiles = plot_suite_profiles(scores, "smacv1", ["BC", "ComaDICE", "NotRun"], out, n_boot=50)
    assert list(profiles) == ["BC", "ComaDICE"]                        # the algorithms the suite has, in order
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    df = normalised_final_scores(scores, "smacv1")
    bc = df.loc[df.algorithm == "BC", "score"].to_numpy()
    assert profiles["BC"] == pytest.approx([np.mean(bc > tau) for tau in TAUS])


def test_an_algorithm_whose_runs_all_diverged_on_a_cell_is_left_out_by_name(tmp_path):
    """rliable's statistics need every algorithm on every cell: an algorithm with no scored run on
    one (all its seeds diverged) gets a row naming why in the statistics, no profile, and the
    others' numbers are those of the pooled statistics without it."""
    from analysis.statistics_table import render_statistics, statistics_table
    from analysis.stats import aggregate_table

    scores = pd.read_csv(REPORT / "scores.csv")
    scores = scores[scores.algorithm.isin(["BC", "ICQ", "ComaDICE"])]   # three algorithms: fewer bootstraps
    hopper = (scores.suite == "mamujoco") & (scores.task == "Hopper_3x1") & (scores.quality == "medium")
    icq = hopper & (scores.algorithm == "ICQ") & (scores.variant == "default")
    diverged = scores.copy()
    diverged.loc[icq, "status"] = "diverged"
    diverged.loc[icq, ["return_mean", "final_return_mean"]] = np.nan
    table = statistics_table(diverged, ["mamujoco"], ["BC", "ICQ", "ComaDICE"])
    row = table.set_index("algorithm").loc["ICQ"]
    # ICQ diverged on all three seeds of Hopper expert in the committed run already
    assert row.left_out == "no scored run on Hopper_3x1/expert, Hopper_3x1/medium (diverged)" and np.isnan(row.iqm)
    # the others' numbers are the pooled statistics without ICQ's runs, on the same normalisation (the
    # grid's range per cell, which ICQ's scored runs are part of)
    norm = normalised_final_scores(diverged, "mamujoco")
    without = aggregate_table(norm[norm.algorithm != "ICQ"], score_col="score", algo_col="algorithm",
                              task_col="cell", seed_col="seed")
    assert table.set_index("algorithm").loc["BC", "iqm"] == pytest.approx(without.loc["BC", "iqm"])
    tex = render_statistics(table, tmp_path / "statistics.tex")
    assert "ICQ (left out: no scored run, diverged) & 12 & -- [--, --] & --" in tex
    profiles = plot_suite_profiles(diverged, "mamujoco", ["BC", "ICQ", "ComaDICE"], tmp_path / "p.png", n_boot=50)
    assert list(profiles) == ["BC", "ComaDICE"]

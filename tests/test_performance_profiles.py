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

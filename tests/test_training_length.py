"""The two training lengths side by side (analysis/training_length.py): ComaDICE's rank and
Kendall's tau at each length from each run's last evaluation, the dataset check, and the rank at
every evaluation of one run, on small score tables whose answers are known."""
import pandas as pd
import pytest

from analysis import markdown as md
from analysis.paper_comparison import paper_reference
from analysis.training_length import length_comparison, length_tables, rank_over_training

CELL = ("smacv1", "5m_vs_6m", "medium")
ALGOS = ["BC", "OMIGA", "ComaDICE"]


def _scores(curves: dict, n_updates: int, sha: str = "a" * 64, status: dict = None) -> pd.DataFrame:
    """``curves``: {algorithm: [win rate at each evaluation]}, the same for seeds 0 and 1."""
    rows = []
    for algo, points in curves.items():
        for seed in (0, 1):
            for i, w in enumerate(points):
                last = i == len(points) - 1
                rows.append({"suite": CELL[0], "task": CELL[1], "quality": CELL[2], "algorithm": algo,
                             "variant": "default", "seed": seed, "step": n_updates * (i + 1) // len(points),
                             "is_final": last, "win_rate_pct": float(w), "return_mean": 0.0,
                             "status": (status or {}).get((algo, seed), "ok"), "dataset_sha256": sha,
                             "n_updates": n_updates, "final_win_rate_pct": float(w) if last else None})
    return pd.DataFrame(rows)


def test_each_length_ranks_comadice_by_its_own_last_evaluation():
    # paper (Table 1, 5m_vs_6m medium): ComaDICE 7.5 > OMIGA 2.5 > BC 1.9
    short = _scores({"BC": [5, 9], "OMIGA": [5, 8], "ComaDICE": [5, 1]}, 1000)
    # evaluations at 510, 1020, 1530: the one nearest 1000 updates is the second
    long = _scores({"BC": [5, 9, 2], "OMIGA": [5, 1, 4], "ComaDICE": [5, 3, 6]}, 1530)
    comp = length_comparison(short, long, ["smacv1"], ALGOS, paper_reference(), [CELL], [0, 1]).iloc[0]
    assert (comp.short_updates, comp.near_updates, comp.long_updates) == (1000, 1020, 1530)
    assert (comp.short_rank, comp.near_rank, comp.long_rank, comp.paper_rank) == (3, 2, 1, 1)
    assert (comp.short_best, comp.near_best, comp.long_best, comp.paper_best) == ("BC", "BC", "ComaDICE", "ComaDICE")
    assert comp.short_tau == pytest.approx(-1.0) and comp.long_tau == pytest.approx(1.0)
    assert comp.near_tau == pytest.approx(-1 / 3)
    assert comp.same_data
    tables = length_tables(length_comparison(short, long, ["smacv1"], ALGOS, paper_reference(), [CELL], [0, 1]))
    assert (tables["tau_short"], tables["tau_near"], tables["tau_long"]) == ("-1.00", "-0.33", "1.00")
    assert (tables["best_short"], tables["best_near"], tables["best_long"], tables["best_paper"]) == (0, 0, 1, 1)
    assert tables["other_data"] == ""
    assert tables["table"]["rows"][0][3:] == ["3/3, best BC, tau -1.00 (1,000 updates)",
                                              "2/3, best BC, tau -0.33 (1,020 updates)",
                                              "1/3, best ComaDICE, tau 1.00 (1,530 updates)", "1/3, best ComaDICE"]


def test_a_short_run_on_other_data_is_marked():
    short = _scores({"BC": [1], "OMIGA": [2], "ComaDICE": [3]}, 1000, sha="b" * 64)
    long = _scores({"BC": [1], "OMIGA": [2], "ComaDICE": [3]}, 1530)
    tables = length_tables(length_comparison(short, long, ["smacv1"], ALGOS, paper_reference(), [CELL], [0, 1]))
    assert tables["other_data"] == "5m_vs_6m medium"
    assert "**no**" in md.render_table(tables["table"])


def test_rank_over_training_follows_every_evaluation_of_the_finished_runs():
    long = _scores({"BC": [9, 2, 2], "OMIGA": [5, 5, 4], "ComaDICE": [1, 3, 6]}, 1530,
                   status={("ComaDICE", 1): "diverged"})
    # seed 1 of ComaDICE diverged: seed 0 alone counts, which has the same curve here
    table = rank_over_training(long, [CELL], ALGOS, paper_reference())
    assert table["header"] == ["task", "quality", "updates", "eval 1", "eval 2", "eval 3"]
    assert table["rows"] == [["5m_vs_6m", "medium", "1,530", "3/3 (-1.00)", "2/3 (0.33)", "1/3 (1.00)"]]


def test_the_run_at_the_authors_length_shares_the_reference_profiles_datasets_and_methods():
    """config/reference_epochs.yaml sets its ranks beside config/reference.yaml's: the same
    datasets (generator, budgets, seed, simulators), methods and seeds, on a subset of its cells,
    at the authors' epochs (config/config.yaml)."""
    from pathlib import Path

    import yaml

    from analysis.training_length import LENGTH_COMPANIONS

    root = Path(__file__).resolve().parents[1]
    for long_profile, short_profile in LENGTH_COMPANIONS.items():
        long, short = (yaml.safe_load((root / "config" / f"{p}.yaml").read_text())
                       for p in (long_profile, short_profile))
        paper = yaml.safe_load((root / "config" / "config.yaml").read_text())
        assert long["profile"] == long_profile and short["profile"] == short_profile
        for key in ("datasets", "simulators", "algorithms", "seeds", "hyperparameters", "variants"):
            assert long[key] == short[key], key
        for suite, spec in long["suites"].items():
            assert set(spec["tasks"]) <= set(short["suites"][suite]["tasks"])
            assert set(spec["qualities"]) <= set(short["suites"][suite]["qualities"])
            epochs = paper["train"]["epochs"][suite]
            for task in spec["tasks"]:
                ours = long["train"]["epochs"][suite]
                assert (ours[task] if isinstance(ours, dict) else ours) == \
                    (epochs[task] if isinstance(epochs, dict) else epochs)
        assert long["train"]["n_updates"] is None and short["train"]["batch_size"] == long["train"]["batch_size"]

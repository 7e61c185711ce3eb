"""Learning-curve figures (reports/<profile>/curves/...): mean and band over seeds per algorithm."""
import pandas as pd

from analysis.figures import curve_frame, plot_learning_curve


def test_curve_frame_and_figure(tmp_path):
    rows = []
    for algo in ("BC", "ComaDICE"):
        for seed in (0, 1, 2):
            for step in (100, 200):
                rows.append(dict(suite="smacv1", task="5m_vs_6m", quality="good", algorithm=algo, variant="default",
                                 seed=seed, step=step, win_rate_pct=10.0 * seed + step / 10, return_mean=1.0))
    rows.append(dict(rows[0], variant="alpha10"))     # ablation variants are not on the curve
    frame = curve_frame(pd.DataFrame(rows), "smacv1", "5m_vs_6m", "good")
    assert len(frame) == 4 and (frame["count"] == 3).all()
    r = frame[(frame.algorithm == "BC") & (frame.step == 200)].iloc[0]
    assert r["mean"] == 30.0 and r["std"] > 0
    out = tmp_path / "curve.png"
    plot_learning_curve(frame, "smacv1", "5m_vs_6m (good)", out, ["BC", "ComaDICE"])
    assert out.stat().st_size > 5_000


def _alpha_scores():
    """ComaDICE's last evaluations of a 2-cell, 2-seed alpha sweep; seed 1 diverged on one
    cell at alpha 0.01."""
    rows = []
    for variant, base in (("alpha0.01", 100.0), ("default", 500.0)):
        for seed in (0, 1):
            for task_i, quality in enumerate(("expert", "medium")):
                diverged = variant == "alpha0.01" and seed == 1 and quality == "medium"
                rows.append({"suite": "mamujoco", "task": "Hopper_3x1", "quality": quality, "algorithm": "ComaDICE",
                             "variant": variant, "seed": seed, "is_final": True,
                             "return_mean": 1e6 if diverged else base + 10 * seed + 100 * task_i,
                             "status": "diverged" if diverged else "ok"})
    return pd.DataFrame(rows)


def test_alpha_frame_leaves_out_diverged_runs_and_their_seeds():
    from analysis.figures import alpha_frame
    frame = alpha_frame(_alpha_scores(), {0.01: "alpha0.01", 10.0: "default"}, ["mamujoco"])
    low = frame[frame["alpha"] == 0.01]
    # the diverged run's number (1e6) is nowhere; its seed is dropped whole, not averaged over one cell
    assert list(low["seed"]) == [0] and low["value"].iloc[0] == (100.0 + 200.0) / 2
    assert (low["left_out"] == 1).all() and (low["cells"] == 2).all()
    high = frame[frame["alpha"] == 10.0]
    assert list(high["seed"]) == [0, 1] and (high["left_out"] == 0).all()
    assert high["value"].tolist() == [(500.0 + 600.0) / 2, (510.0 + 610.0) / 2]


def test_alpha_summary_and_cells_name_the_diverged_seeds():
    from analysis.alpha_sweep import alpha_cells, alpha_summary, alpha_tables
    from analysis.markdown import render_table
    config = {"suites": {"mamujoco": {"tasks": ["Hopper_3x1"], "qualities": ["expert", "medium"]}},
              "algorithms": ["ComaDICE"], "ablations": {"suites": ["mamujoco"], "alpha": [0.01, 10]}}
    scores = _alpha_scores()
    summary = alpha_summary(scores, config)
    assert summary.set_index("alpha").loc[0.01, "seeds"] == 1 and summary.set_index("alpha").loc[0.01, "left_out"] == 1
    cells = alpha_cells(scores, config)
    medium = cells[(cells["quality"] == "medium") & (cells["alpha"] == 0.01)].iloc[0]
    assert medium["seeds"] == 1 and medium["diverged"] == 1 and medium["mean"] == 200.0
    tables = alpha_tables(summary, cells, config)
    suite_table, cell_table = render_table(tables["suite_table"]), render_table(tables["cell_table"])
    assert "1 seed; 1 left out, diverged" in suite_table
    assert "(1 of 2 diverged)" in cell_table and "1000000" not in cell_table

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

"""Rendered tables against a hand-checked expected .tex, the paper side by side, the report's tables
taken from envs/suites.py, and the statistics table."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.latex import LatexError, check_tables, syntax_check, tex_number
from analysis.paper_comparison import paper_comparison
from analysis.score_tables import render, reported
from analysis.statistics_table import render_statistics, statistics_table
from envs.suites import SUITES
from pipeline.report_plan import Column, algorithm_columns, report_tables, table_stems

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent


def fixed_scores() -> pd.DataFrame:
    """Two seeds of BC and ComaDICE on 5m_vs_6m (poor, good); BC's seed 1 of 'good' is missing."""
    rows = []
    values = {("poor", "BC"): [10.0, 20.0], ("poor", "ComaDICE"): [20.0, 10.0],   # a tie: both bold
              ("good", "BC"): [50.0], ("good", "ComaDICE"): [60.0, 80.0]}
    for (quality, algo), wins in values.items():
        for seed, w in enumerate(wins):
            rows.append({"suite": "smacv1", "task": "5m_vs_6m", "quality": quality, "algorithm": algo,
                         "variant": "default", "seed": seed, "step": 100, "is_final": True,
                         "win_rate_pct": w, "return_mean": w / 10, "backend": "smax", "approximation": True,
                         "dataset_sha256": "x", "dataset_grade": "smoke", "eval_episodes": 32})
    return pd.DataFrame(rows)


def test_rendered_table_matches_the_expected_tex(tmp_path):
    out = tmp_path / "t.tex"
    render(fixed_scores(), ["smacv1"], algorithm_columns(["BC", "OMIGA", "ComaDICE"]), out, tmp_path / "t.csv",
           title="SMACv1", label="tab:smacv1")
    assert out.read_text() == (DATA / "expected_table1.tex").read_text()
    csv = pd.read_csv(tmp_path / "t.csv")
    good = csv[(csv.quality == "good") & (csv.algorithm == "ComaDICE")].iloc[0]
    assert good["mean"] == 70.0 and good["std"] == 10.0 and good["n_seeds"] == 2
    assert np.isnan(csv[csv.algorithm == "OMIGA"]["mean"]).all()  # missing, never zero


def test_generated_tables_pass_the_latex_check(tmp_path):
    out = tmp_path / "t.tex"
    render(fixed_scores(), ["smacv1"], [Column("soft-$\\chi^2$", "ComaDICE")], out)
    syntax_check(out)
    assert "table(s)" in check_tables([out])  # compiles where pdflatex is installed


def test_latex_check_refuses_a_broken_table(tmp_path):
    bad = tmp_path / "bad.tex"
    bad.write_text("\\begin{table}\\begin{tabular}{lc}\\toprule a & b & c \\\\ \\midrule\\bottomrule"
                   "\\end{tabular}\\end{table}")
    with pytest.raises(LatexError, match="3 cells, the tabular 2"):
        syntax_check(bad)


def test_paper_comparison_ranks_comadice_in_both():
    ref = pd.DataFrame([
        {"suite": "smacv1", "task": "5m_vs_6m", "quality": "good", "algorithm": a, "metric": "win_rate_pct",
         "mean": m, "std": 0.0} for a, m in [("BC", 2.5), ("ComaDICE", 8.1), ("OMIGA", 6.9)]])
    comp = paper_comparison(fixed_scores(), ["smacv1"], ["BC", "OMIGA", "ComaDICE"], reference=ref)
    good = comp[comp.quality == "good"].iloc[0]
    assert good["paper_rank"] == 1 and good["paper_best_baseline"] == "OMIGA"
    assert good["ours_rank"] == 1 and good["ours_comadice"] == 70.0 and good["ours_best_baseline"] == "BC"
    poor = comp[comp.quality == "poor"].iloc[0]
    assert np.isnan(poor["paper_comadice"]) and poor["ours_rank"] == 1  # a tie shares the best rank


def test_a_diverged_seed_makes_its_cell_diverged_never_a_number(tmp_path):
    scores = fixed_scores()
    scores["status"] = "ok"
    bad = (scores.quality == "good") & (scores.algorithm == "ComaDICE") & (scores.seed == 1)
    scores.loc[bad, ["status", "win_rate_pct"]] = ["diverged", np.nan]
    out = tmp_path / "t.tex"
    render(scores, ["smacv1"], algorithm_columns(["BC", "ComaDICE"]), out, tmp_path / "t.csv",
           title="SMACv1", label="tab:smacv1")
    tex = out.read_text()
    assert "div.\\ 1/2" in tex and "60.0" not in tex  # the surviving seed is not shown as the cell
    assert "1 cell(s) diverged" in tex and "5m\\_vs\\_6m/good/ComaDICE (1 of 2 seeds)" in tex
    csv = pd.read_csv(tmp_path / "t.csv")
    cell = csv[(csv.quality == "good") & (csv.algorithm == "ComaDICE")].iloc[0]
    assert np.isnan(cell["mean"]) and cell["n_diverged"] == 1
    assert "\\textbf{50.0" in tex  # the best of the remaining cells is bold


def test_a_caption_names_a_math_labelled_column_once_escaped(tmp_path):
    """An unbalanced cell of an ablation column whose label is math (soft-$\\chi^2$) is named in
    the caption as the header shows it, not escaped a second time."""
    from pipeline.report_plan import Column

    scores = fixed_scores()
    scores = scores[~((scores.quality == "good") & (scores.algorithm == "ComaDICE") & (scores.seed == 1))]
    out = tmp_path / "t.tex"
    render(scores, ["smacv1"], [Column("BC", "BC"), Column("soft-$\\chi^2$", "ComaDICE")], out,
           title="SMACv1", label="tab:x")
    tex = out.read_text()
    assert "5m\\_vs\\_6m/good/soft-$\\chi^2$ (1 of 2 seeds; seed 1 missing)" in tex
    assert "textbackslash" not in tex
    syntax_check(out)


def test_numbers_have_one_format():
    assert tex_number(70.0, 1, 10.0) == "70.0 $\\pm$ 10.0"
    assert tex_number(0.125, 2, bold=True) == "\\textbf{0.12}"
    assert tex_number(np.nan) == tex_number(None) == "--"


def test_the_report_tables_come_from_the_suites_table():
    cfg = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    tables = {t.stem: t for t in report_tables(cfg)}
    for name in cfg["suites"]:
        suite = SUITES[name]
        assert tables[suite.table].title == suite.title and tables[suite.table].metric is None
        assert (f"{suite.table}_returns" in tables) == suite.returns_table
        assert tables[f"{suite.table}_final_eval"].metric == f"final_{suite.metric}"
    assert table_stems(cfg) == list(tables) + ["paper_vs_ours"]
    # a table of suites with different metrics names each metric with the suites' family
    assert reported(["mamujoco", "smacv2"]) == "win rate (\\%) for SMAC tasks, episode return for MaMuJoCo tasks"
    assert reported(["smacv1", "smacv2"]) == "win rate (\\%)"
    assert reported(["smacv1"], "final_return_mean") == "episode return"


def test_statistics_table_renders_per_suite(tmp_path):
    # OMIGA has no runs; ComaDICE win rates {20, 10, 60, 80}% -> fractions, IQM = mean(0.2, 0.6) = 0.40
    table = statistics_table(fixed_scores(), ["smacv1"], ["BC", "OMIGA", "ComaDICE"])
    assert list(table["algorithm"]) == ["BC", "ComaDICE"] and list(table["n_runs"]) == [3, 4]
    tex = render_statistics(table, tmp_path / "s.tex")
    assert "\\emph{SMACv1}" in tex and "ComaDICE & 4 & 0.40 [" in tex and tex.endswith("\\end{table}\n")
    syntax_check(tmp_path / "s.tex")

"""The committed reference results (reports/reference/) cannot drift from the code
that renders them: the tables, the statistics and RESULTS.md regenerated from the committed
scores.csv (and the committed dataset statistics and provenance) are the committed files."""
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis import reference_results as rr
from analysis.alpha_sweep import alpha_cells, alpha_summary, alpha_tables
from analysis.markdown import render_table as markdown_table
from analysis.paper_comparison import best_of, kendall_tau, paper_reference, rank_of, render_comparison
from analysis.score_tables import render_table
from analysis.statistics_table import render_statistics, statistics_table
from pipeline.grid import runs
from pipeline.report_plan import COMPARISON, report_algorithms, report_tables
from pipeline.snakemake_log import job_times, stage_wall_times

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "reference"
#: every committed reference run: the 1000-update one and the one at the authors' training length
COMMITTED = [p for p in (REPORT, ROOT / "reports" / "reference_epochs") if (p / "RESULTS.md").exists()]


@pytest.fixture(scope="module", params=COMMITTED, ids=lambda p: p.name)
def report(request):
    return request.param


@pytest.fixture(scope="module")
def config(report):
    # the config the committed run executed (config/reference.yaml may since size the next run)
    return yaml.safe_load((report / "config.yaml").read_text())


@pytest.fixture(scope="module")
def scores(report):
    return pd.read_csv(report / "scores.csv")


def _expected_updates(config, report) -> dict:
    """Per cell, the updates every run of the profile makes: ``train.n_updates``, or the authors'
    epochs x |D| // batch on the committed dataset statistics' sizes (harness/train.py)."""
    datasets = pd.read_csv(report / "dataset_statistics.csv")
    lengths = rr.training_lengths(config, datasets)
    return {(r.suite, r.task, r.quality): r.updates for r in lengths.itertuples()}


def test_the_committed_scores_hold_every_run_of_the_profile(config, scores, report):
    final = scores[scores["is_final"]]
    ids = {f"{r.suite}/{r.task}/{r.quality}/{r.algorithm}/{r.variant}/seed{r.seed}" for r in final.itertuples()}
    assert ids == {r.id for r in runs(config)}
    assert len(final) == len(ids)                                  # one last evaluation per run
    expected = _expected_updates(config, report)
    assert [expected[(r.suite, r.task, r.quality)] for r in final.itertuples()] == list(final["n_updates"])
    # a run stopped as diverged has no final evaluation; every other run has the profile's
    finished = final[final["status"] == "ok"]
    assert set(final["status"]) <= {"ok", "diverged"} and len(finished) > 0
    assert (finished["final_eval_episodes"] == config["train"]["final_eval_episodes"]).all()
    assert final.loc[final["status"] == "diverged", "final_eval_episodes"].isna().all()


def test_the_committed_tables_regenerate_from_the_committed_scores(config, scores, report, tmp_path):
    names = []
    for table in report_tables(config):
        render_table(scores, table, tmp_path / f"{table.stem}.tex", tmp_path / f"{table.stem}.csv")
        names += [f"{table.stem}.tex", f"{table.stem}.csv"]
    render_comparison(scores, list(config["suites"]), report_algorithms(config), tmp_path / f"{COMPARISON}.tex",
                      tmp_path / f"{COMPARISON}.csv")
    stats = statistics_table(scores, list(config["suites"]), config["algorithms"])
    stats.to_csv(tmp_path / "statistics.csv", index=False)
    render_statistics(stats, tmp_path / "statistics.tex")
    names += [f"{COMPARISON}.tex", f"{COMPARISON}.csv", "statistics.csv", "statistics.tex"]
    for name in names:
        assert (tmp_path / name).read_bytes() == (report / name).read_bytes(), f"{name} differs from the committed one"


@pytest.mark.parametrize("report", COMMITTED, ids=lambda p: p.name)
def test_the_committed_dataset_statistics_regenerate_beside_the_published_ones(report, tmp_path):
    """The committed dataset statistics' own columns (the datasets are not committed) joined again
    with the project's copy of the published datasets' give the committed CSV and table."""
    from analysis.dataset_stats import PUBLISHED_COLUMNS, render_dataset_table, with_published

    committed = pd.read_csv(report / "dataset_statistics.csv", float_precision="round_trip")  # bit-exact floats
    df = with_published(committed.drop(columns=[c for c in PUBLISHED_COLUMNS if c in committed.columns]))
    df.to_csv(tmp_path / "dataset_statistics.csv", index=False)
    render_dataset_table(df, tmp_path / "dataset_statistics.tex")
    for name in ("dataset_statistics.csv", "dataset_statistics.tex"):
        assert (tmp_path / name).read_bytes() == (report / name).read_bytes(), f"{name} differs from the committed one"
    good = df[(df.task == "5m_vs_6m") & (df.quality == "good")].iloc[0]
    assert good.published_return_mean == 20.0 and good.published_return_of_max == 1.0
    assert df[(df.task == "Hopper_3x1") & (df.quality == "medium")].iloc[0].published_return_mean == 723.6


def test_results_md_regenerates_from_the_committed_files(config, report):
    assert rr.render_results(report, config) == (report / "RESULTS.md").read_text()


def test_the_readme_links_the_results_on_its_first_screen():
    first_screen = (ROOT / "README.md").read_text().splitlines()[:30]
    assert any("reports/reference/RESULTS.md" in line for line in first_screen)


def test_stage_wall_times_from_a_snakemake_log():
    log = "\n".join([
        "[Sun Nov 29 17:30:00 2026]", "localrule mappo_behaviour:", "    jobid: 3",
        "[Sun Nov 29 17:30:01 2026]", "localrule smax_dataset:", "    jobid: 4",
        "[Sun Nov 29 17:40:00 2026]", "Finished jobid: 3 (Rule: mappo_behaviour)",
        "[Sun Nov 29 17:41:00 2026]", "Finished jobid: 4 (Rule: smax_dataset)",
        "[Sun Nov 29 17:41:00 2026]", "localrule train:", "    jobid: 5",
        "[Sun Nov 29 17:41:00 2026]", "localrule train:", "    jobid: 6",
        "[Sun Nov 29 17:51:00 2026]", "Finished jobid: 5 (Rule: train)",
        "Error in rule train:",
        "[Sun Nov 29 17:52:00 2026]", "localrule tables:", "    jobid: 7",
        "[Sun Nov 29 17:52:30 2026]", "Finished jobid: 7 (Rule: tables)",
    ])
    stages = {s["stage"]: s for s in stage_wall_times(job_times(log))}
    assert stages["datasets"]["wall_s"] == 660 and stages["datasets"]["job_s"] == 600 + 659
    assert stages["datasets"]["busy_s"] == 660
    assert stages["training"]["wall_s"] == 600 and stages["training"]["unfinished_jobs"] == 1
    assert stages["report"]["wall_s"] == 30
    assert stages["total"]["wall_s"] == 22 * 60 + 30 and stages["total"]["jobs"] == 4
    assert stages["total"]["busy_s"] == 21 * 60 + 30                    # 17:51-17:52 nothing ran


def test_rank_and_kendall_tau():
    ours = {"BC": 10.0, "OMIGA": 30.0, "ComaDICE": 20.0}
    assert rank_of(ours, "ComaDICE") == 2 and best_of(ours) == "OMIGA"
    assert kendall_tau(ours, {"BC": 1.0, "OMIGA": 3.0, "ComaDICE": 2.0}) == pytest.approx(1.0)
    assert kendall_tau(ours, {"BC": 3.0, "OMIGA": 1.0, "ComaDICE": 2.0}) == pytest.approx(-1.0)
    assert math.isnan(kendall_tau({"BC": 0.0, "OMIGA": 0.0, "ComaDICE": 0.0}, ours))   # constant side
    assert best_of({"BC": 0.0, "ComaDICE": 0.0}) == "tie of 2"


def test_the_paper_reference_holds_table3_without_optdice_and_alberdice():
    ref = paper_reference()
    hopper = ref[(ref["suite"] == "mamujoco") & (ref["task"] == "Hopper_3x1")]
    assert set(hopper["quality"]) == {"expert", "medium", "medium-replay", "medium-expert"}
    assert set(hopper["algorithm"]) == {"BC", "BCQ", "CQL", "ICQ", "OMAR", "OMIGA", "ComaDICE"}
    expert = hopper[hopper["quality"] == "expert"].set_index("algorithm")["mean"]
    assert expert["ComaDICE"] == pytest.approx(2827.70)              # the notebook's cell 15


def _alpha_scores(values: dict) -> pd.DataFrame:
    """Last evaluations of ComaDICE on Hopper expert: {(variant, seed): return}."""
    return pd.DataFrame([{"suite": "mamujoco", "task": "Hopper_3x1", "quality": "expert", "algorithm": "ComaDICE",
                          "variant": v, "seed": s, "is_final": True, "status": "ok", "return_mean": r}
                         for (v, s), r in values.items()])


def test_alpha_cells_sit_beside_the_notebooks_and_find_the_peak():
    config = {"suites": {"mamujoco": {"tasks": ["Hopper_3x1"], "qualities": ["expert"]}},
              "algorithms": ["ComaDICE"], "seeds": [0, 1], "hyperparameters": {}, "variants": {},
              "ablations": {"suites": ["mamujoco"], "alpha": [1, 10]}}
    scores = _alpha_scores({("alpha1", 0): 100.0, ("alpha1", 1): 300.0, ("default", 0): 900.0,
                            ("default", 1): 1100.0})
    cells = alpha_cells(scores, config)
    one, ten = cells.iloc[0], cells.iloc[1]
    assert (one.alpha, one["mean"], one["std"], one.seeds) == (1.0, 200.0, 100.0, 2)   # ddof 0, as the tables
    assert ten["mean"] == 1000.0 and ten.paper_mean == pytest.approx(2827.70)         # alpha 10 = the default
    assert one.paper_mean == pytest.approx(545.67)                                   # the notebook's cell 19
    tables = alpha_tables(alpha_summary(scores, config), cells, config)
    assert tables["same_peak"] == 1 and tables["cells"] == 1
    assert "1000 ± 100 / 2828" in markdown_table(tables["cell_table"])


def test_a_diverged_run_is_not_averaged_into_the_alpha_sweep():
    config = {"suites": {"mamujoco": {"tasks": ["Hopper_3x1"], "qualities": ["expert"]}},
              "algorithms": ["ComaDICE"], "seeds": [0, 1], "hyperparameters": {}, "variants": {},
              "ablations": {"suites": ["mamujoco"], "alpha": [10]}}
    scores = _alpha_scores({("default", 0): 900.0, ("default", 1): 1e9})
    scores.loc[1, "status"] = "diverged"
    cell = alpha_cells(scores, config).iloc[0]
    assert cell["mean"] == 900.0 and cell.seeds == 1 and cell.diverged == 1


def test_provenance_counts_every_invocation_and_only_the_kept_datasets_of_an_earlier_one(tmp_path):
    from pipeline.run_provenance import provenance

    def log(name, *lines):
        path = tmp_path / name
        path.write_text("\n".join(lines))
        return path

    earlier = log("1.snakemake.log",   # stopped to change the code: its training discarded
                  "[Sun Nov 29 17:00:00 2026]", "localrule smac_like_behaviour:", "    jobid: 1",
                  "[Sun Nov 29 17:00:00 2026]", "localrule smac_like_behaviour:", "    jobid: 2",
                  "[Sun Nov 29 17:10:00 2026]", "Finished jobid: 1 (Rule: smac_like_behaviour)",
                  "[Sun Nov 29 17:10:00 2026]", "localrule train:", "    jobid: 3",
                  "[Sun Nov 29 17:12:00 2026]", "Finished jobid: 3 (Rule: train)")
    main = log("2.snakemake.log", "Provided cores: 2",
               "[Sun Nov 29 17:20:00 2026]", "localrule smac_like_behaviour:", "    jobid: 1",
               "[Sun Nov 29 17:25:00 2026]", "Finished jobid: 1 (Rule: smac_like_behaviour)",
               "[Sun Nov 29 17:25:00 2026]", "localrule train:", "    jobid: 2",
               "[Sun Nov 29 17:30:00 2026]", "Finished jobid: 2 (Rule: train)")
    sweep = log("3.snakemake.log",
                "[Sun Nov 29 17:40:00 2026]", "localrule train:", "    jobid: 1",
                "[Sun Nov 29 17:41:00 2026]", "Finished jobid: 1 (Rule: train)")
    prov = provenance({"profile": "reference_epochs"}, ROOT, [main, sweep], datasets_logs=[earlier])
    stages = {s["stage"]: s for s in prov["stages"]}
    assert stages["datasets"]["jobs"] == 2 and stages["datasets"]["unfinished_jobs"] == 0   # 17:00-17:10, 17:20-17:25
    assert stages["datasets"]["job_s"] == 600 + 300
    assert stages["training"]["jobs"] == 2 and stages["training"]["job_s"] == 300 + 60      # not the discarded one
    assert stages["training"]["wall_s"] == 16 * 60
    assert prov["invocations"] == 2 and prov["datasets_logs"] == "1.snakemake.log"
    assert prov["command"].startswith("snakemake all_tables --cores 2 ")

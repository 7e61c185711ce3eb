"""The reports never mislead: what a page states is computed from what it shows; a cell
with a seed missing, a non-finite value, a duplicated run or a missing cell is refused naming it,
or shown marked with the reason, the same way in RESULTS.md, the LaTeX tables, the statistics and
Figure 1; and the committed copies ``make reference`` writes survive a full disk."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "reference"


# -- the report's copies go through the atomic write -------------------------------------------

def test_collect_on_a_full_disk_leaves_the_committed_scores(tmp_path):
    """``make reference``'s collect copies results/<profile>/scores.csv into reports/<profile>/: past a
    file-size limit (as on a full disk) the copy fails naming the file and the previous scores.csv is
    left whole, never a truncated copy that parses as a shorter table."""
    run_dir, root = tmp_path / "run", tmp_path / "checkout"
    (run_dir / "results" / "reference").mkdir(parents=True)
    (root / "reports" / "reference").mkdir(parents=True)
    new = REPORT.joinpath("scores.csv").read_bytes()
    assert len(new) > 256 * 1024
    (run_dir / "results" / "reference" / "scores.csv").write_bytes(new)
    old = new[: new.index(b"\n", 10_000) + 1]  # an earlier, shorter scores.csv
    committed = root / "reports" / "reference" / "scores.csv"
    committed.write_bytes(old)
    code = textwrap.dedent("""
        import resource, sys
        from pathlib import Path
        import yaml
        from analysis import reference_results as rr
        from envs.files import DiskFullError
        rr.ROOT = Path(sys.argv[2])
        config = yaml.safe_load((Path(sys.argv[3]) / "config.yaml").read_text())
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
        try:
            rr.collect(config, Path(sys.argv[1]), logs=[Path("unused.log")])
        except DiskFullError as exc:
            print("DISKFULL", exc)
        except OSError as exc:
            print("OSERROR", exc)
    """)
    res = subprocess.run([sys.executable, "-c", code, str(run_dir), str(root), str(REPORT)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "DISKFULL" in res.stdout and "scores.csv" in res.stdout, res.stdout
    assert committed.read_bytes() == old  # the previous file, whole
    assert sorted(p.name for p in committed.parent.iterdir()) == ["scores.csv"]  # no temporary file left


# -- scores that would make a silently wrong page: refused or marked, the same everywhere ---------

import math  # noqa: E402
import shutil  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from analysis import reference_results as rr  # noqa: E402
from analysis.figures import alpha_frame  # noqa: E402
from analysis.score_checks import ScoresError  # noqa: E402
from analysis.score_tables import render_table  # noqa: E402
from analysis.statistics_table import statistics_table  # noqa: E402
from pipeline.report_plan import report_tables  # noqa: E402

RUN = {"suite": "mamujoco", "task": "Hopper_3x1", "quality": "expert", "algorithm": "ComaDICE",
       "variant": "default"}


@pytest.fixture(scope="module")
def config():
    return yaml.safe_load((REPORT / "config.yaml").read_text())


@pytest.fixture
def report(tmp_path):
    """A copy of the committed report folder whose scores.csv a test edits."""
    for name in ("scores.csv", "dataset_statistics.csv", "provenance.json", "statistics.csv"):
        shutil.copyfile(REPORT / name, tmp_path / name)
    return tmp_path


def _scores(report) -> pd.DataFrame:
    return pd.read_csv(report / "scores.csv")


def _is(scores, seed=None, **key):
    mask = pd.Series(True, index=scores.index)
    for k, v in {**RUN, **key}.items():
        mask &= scores[k] == v
    return mask & (scores["seed"] == seed) if seed is not None else mask


def _hopper_table(config):
    return next(t for t in report_tables(config) if tuple(t.suites) == ("mamujoco",) and t.metric is None
                and t.columns[0].variant == "default")


def test_a_missing_seed_is_marked_in_results_md_and_the_latex_table(report, config, tmp_path):
    scores = _scores(report)
    scores = scores[~_is(scores, seed=1)]
    scores.to_csv(report / "scores.csv", index=False)
    page = rr.render_results(report, config)
    assert "(2 of 3 seeds)" in page and "Hopper 3x1 expert ComaDICE: mean over 2 of 3 seeds (seed 1 missing)" in page
    tex = render_table(scores, _hopper_table(config), tmp_path / "t.tex")
    assert "Hopper\\_3x1/expert/ComaDICE (2 of 3 seeds; seed 1 missing)" in tex


def test_an_ok_run_without_a_value_is_marked(report, config):
    scores = _scores(report)
    scores.loc[_is(scores, seed=2) & scores["is_final"], "return_mean"] = math.nan
    scores.to_csv(report / "scores.csv", index=False)
    page = rr.render_results(report, config)
    assert "Hopper 3x1 expert ComaDICE: mean over 2 of 3 seeds (seed 2 without a value)" in page


def test_a_duplicated_run_is_refused_everywhere(report, config, tmp_path):
    scores = _scores(report)
    scores = pd.concat([scores, scores[_is(scores, seed=0)]], ignore_index=True)
    scores.to_csv(report / "scores.csv", index=False)
    name = "mamujoco/Hopper_3x1/expert/ComaDICE/default/seed0"
    with pytest.raises(ScoresError, match=f"appear more than once.*{name}"):
        rr.render_results(report, config)
    with pytest.raises(ScoresError, match=name):
        render_table(scores, _hopper_table(config), tmp_path / "t.tex")
    with pytest.raises(ScoresError, match=name):
        statistics_table(scores, list(config["suites"]), config["algorithms"])


def test_an_infinite_return_is_refused_not_bold(report, config, tmp_path):
    scores = _scores(report)
    scores.loc[_is(scores, seed=0) & scores["is_final"], "return_mean"] = math.inf
    scores.to_csv(report / "scores.csv", index=False)
    with pytest.raises(ScoresError, match="return_mean is not a finite number.*ComaDICE/default/seed0"):
        rr.render_results(report, config)
    with pytest.raises(ScoresError, match="not a finite number"):
        render_table(scores, _hopper_table(config), tmp_path / "t.tex")
    with pytest.raises(ScoresError, match="not a finite number"):
        alpha_frame(scores, {10.0: "default"}, ["mamujoco"])


def test_a_cell_missing_from_the_scores_is_shown_and_counted(report, config):
    scores = _scores(report)
    gone = (scores["suite"] == "mamujoco") & (scores["task"] == "Hopper_3x1") & (scores["quality"] == "medium")
    scores[~gone].to_csv(report / "scores.csv", index=False)
    page = rr.render_results(report, config)
    assert "9 cells (1 without any run: Hopper 3x1 medium)" in page
    assert "Hopper 3x1 medium: no runs in the scores" in page
    assert "| Hopper 3x1 | medium | – " in page


def test_figure1_notes_an_alpha_missing_a_cell_and_claims_no_peak(report, config):
    scores = _scores(report)
    gone = (scores["quality"] == "medium") & (scores["variant"] == "alpha0.1")
    scores = scores[~gone]
    scores.to_csv(report / "scores.csv", index=False)
    frame = alpha_frame(scores, {0.1: "alpha0.1", 10.0: "default"}, ["mamujoco"])
    assert 0.1 not in set(frame["alpha"])  # no seed has every cell: no suite mean over 3 of 4 cells
    page = rr.render_results(report, config)
    suite_row = next(line for line in page.splitlines() if line.startswith("| MaMuJoCo (ours)"))
    assert "(no seed has every cell)" in suite_row and suite_row.endswith("| – |")


@pytest.mark.parametrize("case", ["no ComaDICE", "header only", "empty"])
def test_results_md_of_unusable_scores_is_a_message(report, config, case):
    scores = _scores(report)
    if case == "no ComaDICE":
        scores[scores["algorithm"] != "ComaDICE"].to_csv(report / "scores.csv", index=False)
        words = "no ComaDICE run"
    elif case == "header only":
        scores.iloc[:0].to_csv(report / "scores.csv", index=False)
        words = "holds no runs"
    else:
        (report / "scores.csv").write_text("")
        words = "empty"
    with pytest.raises(ScoresError, match=f"scores.csv: .*{words}"):
        rr.render_results(report, config)

"""The reports never mislead (issue 29): what a page states is computed from what it shows; a cell
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
            rr.collect(config, Path(sys.argv[1]), log=Path("unused.log"))
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

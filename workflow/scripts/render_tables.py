"""Snakemake script: Tables 1-3 (win rates / returns), the SMAC returns, the final-evaluation
tables, the ablation tables and the paper side by side, as LaTeX and CSV.

Which tables there are comes from ``analysis.tables.report_tables`` (``table_stems``), as the
rule's outputs do (``table_outputs`` in workflow/rules/common.smk); each is written to the
rule's named outputs ``<stem>_tex`` and ``<stem>_csv``."""
import pandas as pd

from analysis.logs import log_to
from analysis.tables import COMPARISON, render_comparison, render_table, report_algorithms, report_tables

out = dict(snakemake.output.items())  # noqa: F821
config = snakemake.config  # noqa: F821

with log_to(snakemake.log[0]):  # noqa: F821
    scores = pd.read_csv(snakemake.input[0])  # noqa: F821
    for table in report_tables(config):
        render_table(scores, table, out[f"{table.stem}_tex"], out[f"{table.stem}_csv"])
        print(f"wrote {out[f'{table.stem}_tex']}")
    render_comparison(scores, list(config["suites"]), report_algorithms(config), out[f"{COMPARISON}_tex"],
                      out[f"{COMPARISON}_csv"])
    print(f"wrote {out[f'{COMPARISON}_tex']}")

"""Snakemake script: Tables 1-3 (win rates / returns), the SMAC returns, the final-evaluation
tables, the ablation tables and the paper side by side, as LaTeX and CSV.

The tables come in the rule's params (``pipeline.report_plan.report_tables``, as the rule's
outputs do: ``table_outputs`` in workflow/rules/common.smk); each is written to the rule's
named outputs ``<stem>_tex`` and ``<stem>_csv``."""
import pandas as pd

from analysis.paper_comparison import render_comparison
from analysis.score_tables import render_table
from pipeline.logs import log_to
from pipeline.report_plan import COMPARISON

out = dict(snakemake.output.items())
p = snakemake.params

with log_to(snakemake.log[0]):
    scores = pd.read_csv(snakemake.input[0])
    for table in p.tables:
        render_table(scores, table, out[f"{table.stem}_tex"], out[f"{table.stem}_csv"])
        print(f"wrote {out[f'{table.stem}_tex']}")
    render_comparison(scores, list(p.comparison_suites), list(p.comparison_algorithms), out[f"{COMPARISON}_tex"],
                      out[f"{COMPARISON}_csv"])
    print(f"wrote {out[f'{COMPARISON}_tex']}")

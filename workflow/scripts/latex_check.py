"""Snakemake script: the generated .tex files compile (pdflatex, when installed) or pass a syntax check."""
from analysis.latex import check_tables
from envs.files import atomic_write_text
from pipeline.logs import log_to

with log_to(snakemake.log[0]):
    tex_files = [f for f in snakemake.input if str(f).endswith(".tex")]
    summary = check_tables(tex_files)
    atomic_write_text(snakemake.output[0], summary + "\n")
    print(summary)

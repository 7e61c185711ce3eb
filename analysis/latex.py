"""The reports' LaTeX: every .tex file is rendered from a template in reports/templates/
through ``render_template`` (one jinja environment), every number in it formatted by
``tex_number`` (the templates' ``num`` filter) and every text escaped by ``latex_escape``
(``escape``); a caption's sentences are composed by the module that knows the data
(``analysis/score_tables.py``).  And the check of the generated tables: compiled with pdflatex
when a TeX install is present, otherwise a structural check (balanced braces, matched
environments, booktabs rules, equal cell counts per row).  Either way a broken table is an
error naming the file."""
from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import jinja2

from envs.files import atomic_write_text

TEMPLATES = Path(__file__).resolve().parent.parent / "reports" / "templates"

PREAMBLE = r"""\documentclass{article}
\usepackage{booktabs}
\usepackage[margin=1cm,landscape]{geometry}
\begin{document}
"""


class LatexError(ValueError):
    pass


def latex_escape(s) -> str:
    return (str(s).replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("%", r"\%")
            .replace("&", r"\&").replace("#", r"\#"))


def tex_number(value, decimals: int = 1, std=None, bold: bool = False) -> str:
    """A number for a table: ``--`` when there is none (None or NaN), else ``value`` with
    ``decimals`` decimals, ``value $\\pm$ std`` when a ``std`` is given, in bold on request."""
    if value is None or value != value:  # NaN (a float, numpy's or pandas' alike) is no number
        return "--"
    text = f"{value:.{decimals}f}"
    if std is not None:
        text += f" $\\pm$ {std:.{decimals}f}"
    return f"\\textbf{{{text}}}" if bold else text


@functools.cache
def environment() -> jinja2.Environment:
    """The templates' environment: LaTeX-friendly delimiters (``<< value >>``, ``<% for %>``,
    ``<# comment #>``), the filters ``num`` (``tex_number``) and ``escape`` (``latex_escape``)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), block_start_string="<%",
                             block_end_string="%>", variable_start_string="<<", variable_end_string=">>",
                             comment_start_string="<#", comment_end_string="#>",
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters.update(num=tex_number, escape=latex_escape)
    return env


def render_template(name: str, out_tex=None, **context) -> str:
    """Render reports/templates/``name``; written (atomically) to ``out_tex`` when given."""
    tex = environment().get_template(name).render(**context)
    if out_tex is not None:
        atomic_write_text(out_tex, tex)
    return tex


def _check_braces(path, body: str) -> None:
    depth = 0
    for i, ch in enumerate(body):
        if ch == "{" and (i == 0 or body[i - 1] != "\\"):
            depth += 1
        elif ch == "}" and (i == 0 or body[i - 1] != "\\"):
            depth -= 1
            if depth < 0:
                raise LatexError(f"{path}: unbalanced '}}' at character {i}")
    if depth:
        raise LatexError(f"{path}: {depth} unclosed '{{'")


def _check_environments(path, body: str) -> None:
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+)\}", body):
        if kind == "begin":
            stack.append(env)
        elif not stack or stack.pop() != env:
            raise LatexError(f"{path}: \\end{{{env}}} does not close the open environment")
    if stack:
        raise LatexError(f"{path}: environment(s) {stack} never closed")


def _check_tabular(path, body: str) -> None:
    """The booktabs rules, and as many cells in each row as the tabular has columns."""
    m = re.search(r"\\begin\{tabular\}\{([^}]*)\}(.*?)\\end\{tabular\}", body, re.S)
    if not m:
        raise LatexError(f"{path}: no tabular")
    n_cols = len(m.group(1))
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        if rule not in m.group(2):
            raise LatexError(f"{path}: missing {rule}")
    for row in m.group(2).split("\\\\"):
        row = re.sub(r"\\(toprule|midrule|bottomrule)", "", row).strip()
        if not row:
            continue
        spans = sum(int(n) - 1 for n in re.findall(r"\\multicolumn\{(\d+)\}", row))
        cells = row.count("&") + 1 - row.count("\\&") + spans
        if cells != n_cols:
            raise LatexError(f"{path}: a row has {cells} cells, the tabular {n_cols}: {row[:60]}")


def syntax_check(path) -> None:
    """Balanced braces, matched environments, a booktabs tabular with equal cell counts per row."""
    text = Path(path).read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("%"))
    _check_braces(path, body)
    _check_environments(path, body)
    _check_tabular(path, body)


def compile_check(paths) -> bool:
    """True if pdflatex compiled every table; False if no pdflatex is installed."""
    exe = shutil.which("pdflatex")
    if not exe:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            doc = Path(tmp) / "doc.tex"
            doc.write_text(PREAMBLE + Path(path).read_text() + "\n\\end{document}\n")
            proc = subprocess.run([exe, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp,
                                  capture_output=True, text=True, timeout=120)
            if proc.returncode != 0:
                tail = "\n".join(proc.stdout.splitlines()[-15:])
                raise LatexError(f"{path}: pdflatex failed:\n{tail}")
    return True


def check_tables(paths) -> str:
    paths = list(paths)
    for p in paths:
        syntax_check(p)
    compiled = compile_check(paths)
    how = "compiled with pdflatex" if compiled else "syntax-checked (no pdflatex installed)"
    return f"{len(paths)} table(s) {how}: " + ", ".join(Path(p).name for p in paths)

"""RESULTS.md's formats: its numbers as text, and its jinja environment (the prose and the
Markdown tables are templates in reports/templates/: ``RESULTS.md.j2``, ``markdown_table.j2``)."""
from __future__ import annotations

import functools
import math
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).resolve().parent.parent / "reports" / "templates"


def num(v, decimals=1, std=None) -> str:
    """``v`` with ``decimals`` decimals (``v ± std`` given a std); – for none."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    s = f"{v:.{decimals}f}"
    return s + (f" ± {std:.{decimals}f}" if std is not None and not math.isnan(std) else "")


def kilo(v) -> str:
    """A published dataset's size as the authors' notebook prints it (``138.7K``); – for none."""
    return "–" if v is None or v != v else f"{v / 1000:.1f}K"


def rank(r, n=None) -> str:
    """A rank, ``r/n`` given the count; – for none."""
    if r is None or (isinstance(r, float) and math.isnan(r)):
        return "–"
    return f"{int(r)}" + (f"/{int(n)}" if n and n == n else "")


def duration(seconds: float) -> str:
    m = int(round(seconds / 60))
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else f"{m} min"


def table(header: list, rows: list) -> dict:
    """A Markdown table for the templates (``markdown_table.j2``)."""
    return {"header": list(header), "rows": [list(r) for r in rows]}


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)


def render_table(t: dict) -> str:
    """One Markdown table as RESULTS.md shows it."""
    return str(environment().get_template("markdown_table.j2").module.table(t))

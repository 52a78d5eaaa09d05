"""The per-metric table that ``regress`` prints (plain text, or Markdown for CI summaries)."""

from __future__ import annotations

from muge_eval.regress.compare import Comparison, MetricComparison

HEADER = ("metric", "expected", "actual", "delta", "tolerance", "verdict")


def _number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _cells(row: MetricComparison) -> tuple[str, ...]:
    arrow = "↑" if row.higher_is_better else "↓"
    return (
        f"{row.metric} {arrow}",
        _number(row.expected),
        _number(row.actual),
        _number(row.delta, signed=True),
        _number(row.tolerance),
        row.verdict,
    )


def text_table(comparison: Comparison) -> str:
    lines = [HEADER, *(_cells(r) for r in comparison.rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    out = []
    for line in lines:
        first = line[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(line[1:-1], widths[1:-1], strict=True)]
        out.append("  ".join([first, *rest, line[-1]]))
    return "\n".join(out)


def markdown_table(comparison: Comparison) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |" for r in comparison.rows]
    return "\n".join(lines)


def summary(comparison: Comparison) -> str:
    if comparison.mismatches:
        return "NOT COMPARABLE: " + "; ".join(comparison.mismatches)
    if comparison.regressions:
        names = ", ".join(r.metric for r in comparison.regressions)
        return f"FAILED: {len(comparison.regressions)} metric(s) regressed beyond tolerance: {names}"
    return "PASSED: no metric regressed beyond tolerance"

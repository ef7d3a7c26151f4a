"""Go's ``text/tabwriter`` column layout, which ``kubectl describe`` output is made of.

kubectl writes describe output as tab-separated cells and lets tabwriter align
them: a column's width is set per *block* of consecutive lines that have a
cell in that column, and the text after a line's last tab is not aligned.
That is why ``Name:`` lines up with ``Status:`` but not with a container's
``Image:``.  Reproducing the algorithm (rather than aligning per section)
is what makes ``k8py describe`` print byte-for-byte what kubectl prints.
"""

from __future__ import annotations

__all__ = ["tabwrite"]


def tabwrite(text: str, *, padding: int = 2, minwidth: int = 0) -> str:
    """Lay out tab-terminated cells as ``tabwriter.NewWriter(out, minwidth, 8, padding, ' ', 0)``."""
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    _format(lines, 0, len(lines), [], out, padding, minwidth)
    return "\n".join(out)


def _format(lines: list[list[str]], line0: int, line1: int, widths: list[int], out: list[str],
            padding: int, minwidth: int) -> None:
    column = len(widths)
    this = line0
    while this < line1:
        if column >= len(lines[this]) - 1:
            this += 1
            continue
        # A block of lines that all have a terminated cell in this column starts here.
        _write(lines, line0, this, widths, out)
        line0 = this
        width = minwidth
        while this < line1 and column < len(lines[this]) - 1:
            width = max(width, len(lines[this][column]) + padding)
            this += 1
        widths.append(width)
        _format(lines, line0, this, widths, out, padding, minwidth)
        widths.pop()
        line0 = this
    _write(lines, line0, line1, widths, out)


def _write(lines: list[list[str]], line0: int, line1: int, widths: list[int],
           out: list[str]) -> None:
    for cells in lines[line0:line1]:
        out.append("".join(cell.ljust(widths[j]) if j < len(widths) else cell
                           for j, cell in enumerate(cells)))

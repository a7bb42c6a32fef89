"""The session table as Markdown (docs/design.md shows it; a test keeps the two equal)."""

from __future__ import annotations

from enum import Enum

from .session_table import Act, Role, Row, rows

__all__ = ["markdown"]


def _names(value: Enum | tuple[Enum, ...] | None) -> str:
    if value is None:
        return "any"
    if isinstance(value, tuple):
        return " or ".join(str(v.value) for v in value)
    return str(value.value)


def _cell(row: Row) -> tuple[str, str, str, str]:
    ready = _names(row.ready)
    upgrade = _names(row.upgrade)
    to = "/".join(
        [
            row.to_ready.value if row.to_ready is not None else "=",
            row.to_upgrade.value if row.to_upgrade is not None else "=",
        ]
    )
    actions = ", ".join(a.name.lower() for a in row.actions if a is not Act.CLOSED)
    if Act.CLOSED in row.actions:
        assert row.reason is not None
        closed = f'closed "{row.reason.value}"'
        if row.description:
            closed += f' ("{row.description}")'
        actions = f"{actions}, {closed}" if actions else closed
    return f"{ready}/{upgrade}", row.event.value, to, actions or "-"


def markdown(role: Role, pinger: bool) -> str:
    """One Markdown table: state (ready/upgrade), event, new state (``=``: unchanged), actions."""
    lines = ["| state | event | new state | actions |", "|---|---|---|---|"]
    for row in rows(role, pinger):
        lines.append("| " + " | ".join(_cell(row)) + " |")
    return "\n".join(lines) + "\n"

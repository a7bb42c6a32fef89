"""docs/design.md shows the server's session table as the code has it."""

from __future__ import annotations

from pathlib import Path

from aiosio.protocol.session_doc import markdown
from aiosio.protocol.session_table import Role

DESIGN = Path(__file__).resolve().parents[2] / "docs" / "design.md"


def test_design_page_shows_the_table() -> None:
    text = DESIGN.read_text()
    start = text.index("<!-- session table: server, v4 -->\n") + len(
        "<!-- session table: server, v4 -->\n"
    )
    end = text.index("<!-- end of session table -->")
    assert text[start:end].strip() == markdown(Role.SERVER, True).strip()


def test_table_markdown_has_one_line_per_row() -> None:
    table = markdown(Role.CLIENT, False)
    lines = table.strip().splitlines()
    assert lines[0] == "| state | event | new state | actions |"
    assert all(line.count("|") == 5 for line in lines)
    assert any("2probe" not in line and "3probe on candidate" in line for line in lines)

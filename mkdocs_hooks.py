"""mkdocs hooks: render the reStructuredText markup of aiosio's docstrings in the API reference.

The docstrings use Sphinx roles (``:class:`~aiosio.Server```) and ``::`` before code blocks. The
reference pages come out of mkdocstrings with them as text; this turns a role into inline code (the
last dotted part with ``~``, as Sphinx shows it) and drops the lone ``::`` paragraphs.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|meth|func|mod|attr|exc|data|obj|const):<code>(~?)([^<]*)</code>")
_LONE_COLONS = re.compile(r"<p>::</p>\s*")
_TRAILING_COLONS = re.compile(r"::</p>")


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


def on_post_page(output: str, page: Any, config: Any) -> str:
    """Rewrite the roles and ``::`` markers left in a page's HTML."""
    output = _ROLE.sub(_role, output)
    output = _LONE_COLONS.sub("", output)
    return _TRAILING_COLONS.sub(":</p>", output)

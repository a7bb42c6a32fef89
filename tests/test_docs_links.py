"""Every docs page the README names exists, and is a page of the documentation site."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_links_to_docs_exist_and_are_in_the_site() -> None:
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"`(docs/[\w/.-]+\.md)`", readme))
    assert len(named) >= 6
    site = (ROOT / "mkdocs.yml").read_text()
    for path in sorted(named):
        assert (ROOT / path).is_file(), path
        assert path.removeprefix("docs/") in site, f"{path} is not in the site's nav"

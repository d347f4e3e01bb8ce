"""The documentation's relative links: each one leads to a file of the repository, and an
``#anchor`` to a heading of that file (GitHub's heading ids)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def documents() -> list[Path]:
    """The Markdown files a reader finds: the READMEs, CONTRIBUTING and everything under docs/."""
    found = [REPO / "README.md", REPO / "CONTRIBUTING.md", REPO / "docker" / "README.md"]
    return [p for p in found if p.exists()] + sorted((REPO / "docs").rglob("*.md"))


def prose(text: str) -> str:
    """``text`` without its fenced code blocks and inline code (links there are not links)."""
    text = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def links(text: str) -> list[str]:
    """The relative link targets of a Markdown text."""
    return [t for t in LINK.findall(prose(text)) if not EXTERNAL.match(t)]


def slug(heading: str) -> str:
    """GitHub's id of a heading: link text kept, lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The ids of a Markdown file's headings (a repeated heading gets ``-1``, ``-2``, …)."""
    seen: dict[str, int] = {}
    out = set()
    fenced = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", path.read_text(), flags=re.MULTILINE | re.DOTALL)
    for line in fenced.splitlines():
        if match := HEADING.match(line):
            base = slug(match.group(1))
            out.add(base if base not in seen else f"{base}-{seen[base]}")
            seen[base] = seen.get(base, 0) + 1
    return out


def broken(doc: Path, target: str) -> str | None:
    """Why ``target`` (a link in ``doc``) leads nowhere, or None when it resolves."""
    file_part, _, anchor = target.partition("#")
    path = (doc.parent / file_part).resolve() if file_part else doc
    if not path.is_relative_to(REPO):
        return "outside the repository"
    if not path.exists():
        return "no such file"
    if anchor and path.suffix == ".md" and anchor not in anchors(path):
        return f"no heading #{anchor} in {path.relative_to(REPO)}"
    return None


@pytest.mark.parametrize("doc", documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_leads_to_a_file_and_heading_of_the_repository(doc):
    problems = [f"{target}: {why}" for target in links(doc.read_text()) if (why := broken(doc, target))]
    assert not problems, f"{doc.relative_to(REPO)}: " + "; ".join(problems)


def test_links_in_code_and_to_other_sites_are_not_checked():
    text = "[a](https://example.com) `[b](nowhere.md)`\n```\n[c](nowhere.md)\n```\n[d](docs/x.md#y)"
    assert links(text) == ["docs/x.md#y"]


def test_a_heading_id_is_githubs():
    assert slug("Running one test: `pytest -k` (fast)") == "running-one-test-pytest--k-fast"
    assert slug("See [the images](#the-images)") == "see-the-images"


def test_a_broken_link_a_missing_heading_and_a_path_outside_are_each_found(tmp_path):
    doc = REPO / "docs" / "configuration.md"
    assert broken(doc, "../README.md") is None
    assert broken(doc, "#configuration-reference") is None
    assert broken(doc, "nowhere.md") == "no such file"
    assert broken(doc, "../README.md#no-such-heading") == "no heading #no-such-heading in README.md"
    assert broken(doc, "../../shared/DESIGN.md") == "outside the repository"

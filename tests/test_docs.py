"""The documentation: its relative links lead to a file of the repository, and an ``#anchor`` to a
heading of that file (GitHub's heading ids); the README stays short; every metric the gateway
registers is documented; the user docs say nothing about how the project is developed. (The
examples' checks are in tests/docs/.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.metrics import Metrics

REPO = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def documents() -> list[Path]:
    """The Markdown files a reader finds: the READMEs, CONTRIBUTING, CHANGELOG and everything under docs/."""
    found = [REPO / "README.md", REPO / "CONTRIBUTING.md", REPO / "CHANGELOG.md", REPO / "docker" / "README.md"]
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


README_MOST_LINES = 150


def test_the_readme_is_a_front_page_of_at_most_150_lines():
    lines = (REPO / "README.md").read_text().count("\n")
    assert lines <= README_MOST_LINES, f"README.md has {lines} lines; move reference into docs/"


def exported_names(metrics: Metrics) -> list[str]:
    """The name each of ``metrics``' instruments is scraped by (a counter's with ``_total``)."""
    return [m.name + ("_total" if m.type == "counter" else "") for m in metrics.registry.collect()]


def test_every_metric_the_gateway_registers_is_documented_in_observability():
    page = (REPO / "docs" / "deployment" / "observability.md").read_text()
    names = exported_names(Metrics())
    assert "granite_certainty_requests_total" in names and "granite_certainty_request_seconds" in names
    missing = [name for name in names if f"`{name}`" not in page]
    assert not missing, f"docs/deployment/observability.md does not document {missing}"


#: Words about how the project is developed, which a user of it has no use for: issue numbers,
#: work sessions, the development machines and their paths, files outside the repository.
TEAM_WORDS = re.compile(
    r"\bissues? #?\d+"
    r"|\b(this|next|previous|last|earlier|later|that|the day's) session\b"
    r"|\bsession'?s (first|last|end)\b|\bend of the session\b"
    r"|\b(this|the) project's [^.;,\n]{0,25}\b(machines?|VMs?|CI)\b"
    r"|\b(its|our) (development |CI )?machines\b"
    r"|\bGPU (was )?lent\b|/work/|/opt/wheels|\.\./shared/|DEVELOPERS\.md",
    re.IGNORECASE,
)


def team_words(text: str) -> list[str]:
    """The phrases of ``text`` that speak of the development work rather than the product."""
    return [m.group(0) for m in TEAM_WORDS.finditer(text)]


@pytest.mark.parametrize(
    "doc",
    [d for d in documents() if d.name != "CHANGELOG.md"],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_user_docs_say_nothing_about_how_the_project_is_developed(doc):
    found = team_words(doc.read_text())
    assert not found, f"{doc.relative_to(REPO)}: {found}"


def test_team_words_are_found_and_ordinary_words_are_not():
    assert team_words("as issue 25 did; at the end of the session; this session had no GPU lent") == [
        "issue 25",
        "end of the session",
        "this session",
        "GPU lent",
    ]
    assert team_words("on this project's 2-core CI machine; its machines have no GPU; /work/main, /opt/wheels") == [
        "this project's 2-core CI machine",
        "its machines",
        "/work/",
        "/opt/wheels",
    ]
    ordinary = "aiohttp's ClientSession; mellea's start_session; sticky sessions; a session's chat; HTTP session"
    assert team_words(ordinary) == []

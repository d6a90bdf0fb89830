"""The documentation holds together: every relative link and anchor in README.md and
docs/ resolves, every ``docs/<page>.md#section`` that the code cites exists, and the
README stays a front door."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [
        ROOT / "README.md",
        ROOT / "bench" / "README.md",
        ROOT / "scenarios" / "README.md",
        *(ROOT / "docs").rglob("*.md"),
    ]
)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CITATION = re.compile(r"docs/([a-z-]+\.md)((?:#[\w-]+)(?:, #[\w-]+)*)")


def anchors(page: Path) -> set[str]:
    """The anchors GitHub makes of a page's headings (lowercase, punctuation dropped,
    spaces to hyphens)."""
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # no headings in code blocks
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [link for link in LINK.findall(text) if not re.match(r"[a-z]+:", link)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for link in relative_links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{link}: no heading #{anchor} in {target.relative_to(ROOT)}")
    assert not broken, broken


def code_citations() -> list[tuple[str, str, str]]:
    """``(source file, page, anchor)`` for every docs citation in the code and tests."""
    cited = []
    for path in [*ROOT.glob("harness/**/*.py"), *ROOT.glob("tests/**/*.py")]:
        if "node_modules" in path.parts:
            continue
        for page, fragment in CITATION.findall(path.read_text(encoding="utf-8")):
            for anchor in re.findall(r"#([\w-]+)", fragment):
                cited.append((str(path.relative_to(ROOT)), page, anchor))
    return cited


def test_the_code_cites_sections_that_exist() -> None:
    cited = code_citations()
    assert len(cited) > 50  # the protocol code cites docs/protocol.md throughout
    missing = [
        f"{source}: docs/{page}#{anchor}"
        for source, page, anchor in cited
        if anchor not in anchors(ROOT / "docs" / page)
    ]
    assert not missing, missing


def test_the_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{page.name}" in readme, f"README.md does not link docs/{page.name}"

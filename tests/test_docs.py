"""The front door and the reference pages: a README a newcomer reads in minutes, links that resolve
inside the repository, and every environment variable documented."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150, len(lines)
    assert all(len(line) <= 100 for line in lines if not line.startswith(("|", "![")))
    text = "\n".join(lines)
    for must in ("tox -e claims", "tox -e tests", "pip install -e", "iclcheck run claims/"):
        assert must in text, must


def test_every_relative_link_resolves():
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if target.startswith(("http://", "https://", "#", "mailto:")):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            assert path.exists(), f"{page.relative_to(ROOT)}: {target}"


def test_every_environment_variable_is_documented():
    used: set[str] = set()
    for folder in ("harness", "benchmarks", "scripts"):
        for f in (ROOT / folder).rglob("*"):
            if f.suffix in (".py", ".sh"):
                used |= set(re.findall(r"ICLCHECK_[A-Z_]*[A-Z]", f.read_text()))
    used |= set(re.findall(r"ICLCHECK_[A-Z_]*[A-Z]", (ROOT / "tox.ini").read_text()))
    documented = set(
        re.findall(r"`(ICLCHECK_[A-Z_]+)`", (ROOT / "docs/environment.md").read_text())
    )
    assert used <= documented, sorted(used - documented)


def test_the_example_claims_of_writing_claims_validate(tmp_path: Path):
    from harness.claims.schema import load_claim

    text = (ROOT / "docs/writing-claims.md").read_text()
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", text, re.S) if '"..."' not in b]
    assert len(blocks) >= 2
    (tmp_path / "_base.toml").write_text((ROOT / "claims/_base.toml").read_text())
    for b in blocks:
        cid = re.search(r'id = "([^"]+)"', b).group(1)
        path = tmp_path / f"{cid}.toml"
        path.write_text(b)
        for profile in ("quick", "nightly"):
            assert load_claim(path, profile).id == cid

"""The README and docs/architecture.md stay true to the code: what a new user copies from them must work.

Checked here, without a model: the README's spec-format YAML block validates against the spec models; every
`tunegate COMMAND` the README names is a registered command; every scorer type in its table is registered; every
relative link in both files resolves; and docs/architecture.md names every module in src/tunegate (a module added
without a line there fails, as the architecture test does for a new import circle).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
ARCH = ROOT / "docs" / "architecture.md"


def _spec_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## The task spec", 1)[1]
    m = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert m, "README: no ```yaml block under '## The task spec'"
    return m.group(1)


def test_readme_spec_block_is_a_valid_spec():
    from tunegate.spec import parse_spec

    spec = parse_spec(_spec_block(), "README.md")
    # the keys the README documents there are really read, not merely tolerated
    assert spec.eval.scorers[0].type == "label_match" and spec.eval.scorers[0].model_extra.get("strict") is True
    assert spec.check_eval.answer_method == "auto"
    assert spec.sprint.racing.budget_share == pytest.approx(0.333)
    assert spec.monitor.thresholds.min_tvd == 0.1
    assert spec.audit.near_duplicate_threshold == 0.98


def test_readme_spec_block_rejects_a_misspelt_key():
    """The test above could not fail if the block were never validated strictly: a typo must be an error."""
    from tunegate.errors import SpecError
    from tunegate.spec import parse_spec

    with pytest.raises(SpecError, match="unknown key"):
        parse_spec(_spec_block().replace("gap_that_matters:", "gap_that_matter:"), "README.md")


def _command_names() -> set[str]:
    from tunegate.cli import _command_name, app

    names = {_command_name(c) for c in app.registered_commands}
    return names | {g.name for g in app.registered_groups if g.name}


def test_every_command_the_readme_names_exists():
    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"^tunegate ([a-z][a-z-]*)", text, re.M)) | set(re.findall(r"`tunegate ([a-z][a-z-]*)", text))
    known = _command_names()
    assert "run" in known and "import-evals" in known  # the lookup itself works
    assert sorted(named - known) == []


def test_every_scorer_in_the_readme_table_is_registered():
    import tunegate.evals.judge  # noqa: F401  (registers llm_judge)
    from tunegate.evals.scorers import SCORERS

    text = README.read_text(encoding="utf-8")
    table = text.split("**Scorers**", 1)[1].split("\n\n", 2)[1]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    names = {n for row in rows for n in re.findall(r"`([a-z_]+)`", row.split("|")[1])}
    assert names, "README: no scorer table found"
    assert sorted(names - set(SCORERS)) == []


@pytest.mark.parametrize("doc", [README, ARCH], ids=lambda p: p.name)
def test_relative_links_resolve(doc: Path):
    text = doc.read_text(encoding="utf-8")
    broken = [target for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
              if not target.startswith(("http://", "https://", "mailto:")) and not (doc.parent / target).exists()]
    assert broken == []


def test_architecture_names_every_module():
    text = ARCH.read_text(encoding="utf-8")
    pkg = ROOT / "src" / "tunegate"
    missing = []
    for p in sorted(pkg.rglob("*.py")):
        if p.name == "__init__.py":
            continue
        rel = p.relative_to(pkg)
        # a module is named by its file name; artifact_models/ (one model per artifact) is described as a whole
        if p.name not in text and rel.parts[0] != "artifact_models":
            missing.append(str(rel))
    assert missing == [], f"docs/architecture.md does not mention: {missing}"

"""Regressions found reviewing the changes since bf0f892 (task Rv).

Each test states the promise it checks; each failed on the code as reviewed and passes with its fix.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest


# --------------------------------------------------------------------------- data/readers.py: JSONL blocks


def test_block_fallback_reads_lines_as_iter_rows_does(tmp_path: Path) -> None:
    """The monitor's row-by-row fallback for an unclean block must give the rows, line numbers and errors
    iter_rows gives: a valid record with a bare CR between tokens stays one valid row, and the invalid line
    after it keeps its own number (the error names file:line)."""
    from tunegate.data.readers import iter_jsonl_blocks, iter_rows

    p = tmp_path / "log.jsonl"
    p.write_bytes(b'{"input": "a",\r"output": "b"}\n{bad\n{"input": "c", "output": "d"}\n')
    expected = [(r.line, r.data, r.error is None) for r in iter_rows(p)]
    got = [(r.line, r.data, r.error is None) for b in iter_jsonl_blocks(p) for r in b.rows()]
    assert expected == [(1, {"input": "a", "output": "b"}, True), (2, None, False),
                        (3, {"input": "c", "output": "d"}, True)]
    assert got == expected


# ---------------------------------------------------------------------- plugins: `tunegate schema` lists them

_PLUGIN = '''
from pydantic import BaseModel, ConfigDict
from tunegate.evals.scoring_base import ItemScore, Scorer, register_scorer


@register_scorer("rv_installed_scorer")
class RvInstalled(Scorer):
    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        max_chars: int = 40

    def score(self, output, example):
        return ItemScore(float(len(output or "") <= self.opts.max_chars), None)
'''


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fake installed distribution declaring a scorer in the tunegate.plugins entry-point group."""
    from tunegate import plugins
    from tunegate.evals import scoring_base

    site = tmp_path / "site"
    (site / "rv_tgplug-0.1.dist-info").mkdir(parents=True)
    (site / "rv_tgplug.py").write_text(_PLUGIN)
    (site / "rv_tgplug-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: rv-tgplug\n"
                                                               "Version: 0.1\n")
    (site / "rv_tgplug-0.1.dist-info" / "entry_points.txt").write_text("[tunegate.plugins]\nrv = rv_tgplug\n")
    monkeypatch.syspath_prepend(str(site))
    saved = dict(plugins._entry_points_state)
    plugins._entry_points_state.update(done=False, error=None, loaded=[])
    yield
    plugins._entry_points_state.clear()
    plugins._entry_points_state.update(saved)
    scoring_base.SCORERS.pop("rv_installed_scorer", None)
    plugins._catalog.get("scorer", {}).pop("rv_installed_scorer", None)
    sys.modules.pop("rv_tgplug", None)


def test_schema_lists_installed_plugin_options(installed_plugin: None) -> None:
    from typer.testing import CliRunner

    from tunegate.cli import app

    res = CliRunner().invoke(app, ["schema"])
    assert res.exit_code == 0, res.output
    scorers = json.loads(res.stdout)["$defs"]["plugins"]["properties"]["scorer"]["properties"]
    assert "rv_installed_scorer" in scorers


# ------------------------------------------------------------------ models/openai_compat.py: endpoint identity


def test_punycode_hosts_canonicalise_as_httpx_does() -> None:
    """The cache identity of an OpenAI-compatible backend holds the canonical base URL: the fast path must give
    what the httpx path gives, or answers cached before the fast path existed are paid for again."""
    import httpx

    from tunegate.models.openai_compat import normalise_base_url

    url = "http://xn--bcher-kva.example/v1"  # httpx gives http://bücher.example/v1
    parsed = httpx.URL(url)
    default = {"http": 80, "https": 443}[parsed.scheme]
    port = f":{parsed.port}" if parsed.port not in (None, default) else ""
    assert normalise_base_url(url) == f"{parsed.scheme}://{parsed.host.lower()}{port}{parsed.path.rstrip('/')}"

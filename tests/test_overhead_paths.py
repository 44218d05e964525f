"""Issue 19: the fast paths keep their guarantees (cached secret list, batched cache writes, results lines)."""

from __future__ import annotations

import json

from tunegate.evals.runner import _redacted_line
from tunegate.models.cache import ResponseCache
from tunegate.redact import register_secret, register_secret_env, secrets


def test_cached_secret_list_follows_env_changes_and_registrations(monkeypatch):
    monkeypatch.setenv("TG_T19_TOKEN", "first-value-123")
    assert "first-value-123" in secrets()
    monkeypatch.setenv("TG_T19_TOKEN", "second-value-456")  # same name, new value: no name change
    now = secrets()
    assert "second-value-456" in now and "first-value-123" not in now
    monkeypatch.setenv("TG_T19_PLAIN", "plain-value-789")  # not a secret-looking name
    assert "plain-value-789" not in secrets()
    register_secret_env("TG_T19_PLAIN")  # registered after the list was cached
    assert "plain-value-789" in secrets()
    register_secret("registered-value-000")
    assert "registered-value-000" in secrets()


def test_results_line_is_redacted_whether_or_not_the_secret_needs_json_escaping():
    register_secret("sk-t19-abcdef")
    register_secret('t19"quote\\d')
    line = _redacted_line({"output": "x sk-t19-abcdef y", "nested": {"e": ['t19"quote\\d']}, "n": 1})
    assert "sk-t19-abcdef" not in line and "quote" not in line
    assert json.loads(line) == {"output": "x *** y", "nested": {"e": ["***"]}, "n": 1}
    assert _redacted_line({"output": "clean"}) == '{"output": "clean"}'


def test_put_many_writes_every_row_and_drops_their_leases(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    keys = [f"k{i}" for i in range(400)]  # more rows than one INSERT statement takes
    assert cache.claim(keys) == set(keys)
    cache.put_many([(k, {"text": k}) for k in keys[:350]], op="generate", model="m")
    assert len(cache) == 350 and cache.get("k349") == {"text": "k349"}
    left = {k for (k,) in cache._conn.execute("SELECT key FROM leases")}
    assert left == set(keys[350:])
    cache.close()

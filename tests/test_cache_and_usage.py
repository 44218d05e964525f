"""Response cache keys, persistence and usage accounting."""

from __future__ import annotations

import sqlite3

from tunegate.models.cache import ResponseCache, cache_key
from tunegate.models.usage import Price, UsageTracker

IDENT = {"kind": "openai", "model": "m", "base_url": "http://127.0.0.1:1/v1"}
MSGS = [{"role": "user", "content": "hi"}]


def test_key_is_canonical_and_sensitive():
    a = cache_key(IDENT, "generate", messages=MSGS, params={"temperature": 0, "max_tokens": 5})
    b = cache_key(dict(reversed(list(IDENT.items()))), "generate", messages=MSGS,
                  params={"max_tokens": 5, "temperature": 0})
    assert a == b  # dict order does not matter
    assert a != cache_key(IDENT, "generate", messages=MSGS, params={"temperature": 0, "max_tokens": 5}, epoch=1)
    assert a != cache_key(IDENT, "generate", messages=MSGS, params={"temperature": 0.7, "max_tokens": 5})
    assert a != cache_key({**IDENT, "model": "m2"}, "generate", messages=MSGS, params={"temperature": 0,
                                                                                      "max_tokens": 5})
    assert a != cache_key(IDENT, "label_logprobs", messages=MSGS, params={"temperature": 0, "max_tokens": 5})


def test_secret_like_params_do_not_enter_the_key():
    a = cache_key(IDENT, "generate", messages=MSGS, params={"api_key": "sk-secret-1"})
    b = cache_key(IDENT, "generate", messages=MSGS, params={"api_key": "sk-secret-2"})
    assert a == b == cache_key(IDENT, "generate", messages=MSGS, params={})


def test_put_is_durable_across_connections_and_in_wal_mode(tmp_path):
    path = tmp_path / "c.sqlite"
    c = ResponseCache(path)
    k = cache_key(IDENT, "generate", messages=MSGS)
    c.put(k, {"text": "hello"}, op="generate", model="openai:m")
    # another connection sees it immediately: it was committed, not buffered
    other = sqlite3.connect(path)
    assert other.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 1
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()
    c.close()
    c2 = ResponseCache(path)
    assert c2.get(k) == {"text": "hello"}
    assert c2.get_many([k, "missing"]) == {k: {"text": "hello"}}
    assert c2.hits == 2 and c2.misses == 1
    c2.close()


def test_usage_tracks_roles_cache_hits_and_cost():
    t = UsageTracker()
    price = Price(input_per_1m=1.0, output_per_1m=2.0)
    assert t.record(role="subject", model="m", input_tokens=1000, output_tokens=500, latency_s=0.1, price=price,
                    cached=False) == 0.002
    assert t.record(role="subject", model="m", input_tokens=1000, output_tokens=500, latency_s=0.0, price=price,
                    cached=True) == 0.0
    t.record(role="judge", model="j", input_tokens=2000, output_tokens=0, latency_s=0.2, price=price, cached=False)
    t.record(role="judge", model="j", input_tokens=0, output_tokens=0, latency_s=0.0, price=price, cached=False,
             error=True)
    d = t.to_dict()
    assert d["total"]["calls"] == 4 and d["total"]["cache_hits"] == 1 and d["total"]["errors"] == 1
    assert d["by_role"]["subject"]["cost"] == 0.002 and d["by_role"]["subject"]["cost_saved"] == 0.002
    assert d["by_role"]["judge"]["cost"] == 0.002 and d["by_role"]["judge"]["backend_calls"] == 2


def test_put_many_commits_every_entry_in_one_transaction(tmp_path):
    c = ResponseCache(tmp_path / "c.sqlite")
    keys = [cache_key(IDENT, "generate", messages=MSGS, epoch=e) for e in range(5)]
    c.put_many([(k, {"text": f"t{e}"}) for e, k in enumerate(keys)], op="generate", model="openai:m")
    other = sqlite3.connect(tmp_path / "c.sqlite")  # visible to another connection at once: committed
    assert other.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 5
    assert c.get(keys[3]) == {"text": "t3"}
    c.put_many([], op="generate", model="openai:m")  # nothing to do, no empty transaction left open
    c.put(keys[0], {"text": "again"}, op="generate", model="openai:m")
    assert other.execute("SELECT value FROM responses WHERE key = ?", (keys[0],)).fetchone()[0] == '{"text":"again"}'

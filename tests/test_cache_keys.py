"""cache_keys (the batched form the streams use) gives cache_key's keys: resumed runs and old caches still hit."""

from __future__ import annotations

import hashlib
import json

from tunegate.models.cache import cache_key, cache_keys, canonical_json

IDENT = {"kind": "openai", "model": "m", "base_url": "http://127.0.0.1:8000/v1"}


def test_batched_keys_equal_single_keys():
    shared = {"temperature": 0.0, "max_tokens": 16, "api_key": "sk-never-in-key", "timeout": 3}
    calls = [(({"role": "user", "content": f"Classify: é {i}\n\"q\""},), shared if i % 3 else {"seed": i}, i % 2)
             for i in range(50)]
    calls.append(([], None, 0))
    for extra in (None, {"options": ["a", "b"]}):
        expected = [cache_key(IDENT, "generate", messages=m, params=p, epoch=e, extra=extra) for m, p, e in calls]
        assert cache_keys(IDENT, "generate", calls, extra=extra) == expected


def test_key_is_the_sha256_of_the_sorted_compact_payload():
    """Pinned to the documented definition, so a faster encoder can never change a stored key."""
    payload = {"backend": IDENT, "op": "generate", "messages": [{"role": "user", "content": "hi ü"}],
               "params": {"temperature": 0.0}, "epoch": 2, "extra": {}}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    assert canonical_json(payload) == text
    want = hashlib.sha256(text.encode("utf-8")).hexdigest()
    msgs = [{"role": "user", "content": "hi ü"}]
    assert cache_key(IDENT, "generate", messages=msgs, params={"temperature": 0.0, "headers": {"x": "y"}},
                     epoch=2) == want
    assert cache_keys(IDENT, "generate", [(msgs, {"temperature": 0.0}, 2)]) == [want]


def test_a_params_dict_mutated_between_batches_is_reencoded():
    params = {"temperature": 0.0}
    first = cache_keys(IDENT, "generate", [([{"role": "user", "content": "x"}], params, 0)])
    params["temperature"] = 1.0
    second = cache_keys(IDENT, "generate", [([{"role": "user", "content": "x"}], params, 0)])
    assert first != second
    assert second == [cache_key(IDENT, "generate", messages=[{"role": "user", "content": "x"}], params=params)]

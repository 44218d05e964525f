"""A whole sprint with the real local model (SmolLM2-135M, label-likelihood) and MiniLM embeddings on a small
subset of the example task: 3 candidates, a few dev and test items. Asserts structure and accounting, not
accuracy (the 135M model is near chance on this task)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunegate.models.cache import ResponseCache
from tunegate.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "support-triage" / "tunegate.yaml"


@pytest.mark.integration
def test_sprint_with_smollm2_on_a_small_subset(tmp_path):
    from tunegate.config.sprint import RacingSpec
    from tunegate.sprint.stage import sprint_stage

    spec = load_spec(SPEC)
    spec.sprint.racing = RacingSpec(min_items=2, eta=2, finalists=2, dev_items=4)
    spec.sprint.test_items = 4
    spec.sprint.strategies = ["zero_shot", {"type": "few_shot_random", "k": 2}, {"type": "few_shot_knn", "k": 2}]
    cache = ResponseCache(tmp_path / "c.sqlite")
    art = sprint_stage(spec, tmp_path / "out", cache=cache)
    assert [c["method"] for c in art["tried"]] == ["label_likelihood"] * 3
    assert art["split_sizes"] == {"dev": 4, "test": 4, "train_pool": 290, "pool_excluded_duplicates": 0}
    assert art["rounds"][0]["new_items"] == 2 and len(art["rounds"][0]["candidates"]) == 3
    # the selection budget (1/3 of the grid's 3 x 4 calls) is spent by the first round, which always runs
    assert art["calls_selection"] == 3 * 2 and art["selection"]["dev_items_used"] == 2
    assert art["selection"]["method"] == "race" and 0 <= art["selection"]["p_within_1pt"] <= 1
    assert len(art["finalists"]) == 2 and art["best"]["candidate"] == art["finalists"][0]
    for c in art["candidates"]:
        assert c["n"] == 4 and 0 <= c["ci_low"] <= c["value"] <= c["ci_high"] <= 1
        assert c["latency_ms_per_request"] > 0 and c["tokens_per_request"]["input"] > 50
    assert art["gate"] in ("gap", "unknown")  # a 135M model does not meet a 0.9 target
    assert art["usage_by_role"]["subject"]["backend_calls"] == art["calls_used"]
    on_disk = json.loads((tmp_path / "out" / "sprint.json").read_text())
    assert on_disk["calls_used"] == art["calls_used"]
    # a second run is answered from the cache: same numbers, no backend calls
    again = sprint_stage(spec, tmp_path / "out2", cache=cache)
    assert again["usage_by_role"]["subject"]["backend_calls"] == 0
    assert again["best"] == art["best"]

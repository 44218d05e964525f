"""The ``lora`` probe: a tiny real training run on SmolLM2, and the adapter loaded back as a ``local:`` backend.

Unmarked tests need no model. The integration tests share one training run of a tiny budget (16 examples,
128 tokens, 1 epoch, 4 steps), so the file stays well under two minutes on a 2-core CPU.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tunegate.data.examples import Example, load_examples
from tunegate.errors import InputError, SpecError
from tunegate.probe.lora import LoraConfigSpec, format_example, sample_examples, train_lora
from tunegate.spec import load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "support-triage" / "tunegate.yaml"
TINY = LoraConfigSpec(max_examples=16, max_length=128, epochs=1, batch_size=4, lr=1e-3, max_dev=10, device="cpu")


@pytest.fixture(scope="module")
def triage():
    spec = load_spec(SPEC)
    return spec, load_examples(spec)


def extraction_spec():
    return parse_spec(
        "task: {name: x, kind: extraction, instruction: Extract the order id.,"
        " output_schema: {type: object, properties: {order: {type: string}}}}\n"
        "data: {path: x.jsonl, fields: {input: text, target: out}}\n"
    )


# -- no model needed -------------------------------------------------------------------------------------------


def test_import_is_cheap():
    code = "import sys, tunegate.probe.lora; print('torch' in sys.modules, 'peft' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert out.stdout.strip() == "False False"


def test_config_is_validated_at_the_edge():
    with pytest.raises(InputError, match="lora.rank"):
        LoraConfigSpec(rank=0)
    with pytest.raises(SpecError, match="probe.lora.epoch"):
        LoraConfigSpec.from_mapping({"epoch": 3})
    cfg = LoraConfigSpec.from_mapping({"epochs": 3, "target_modules": ["q_proj"]})
    assert cfg.epochs == 3 and cfg.target_modules == ("q_proj",) and cfg.to_dict()["target_modules"] == ["q_proj"]


def test_compact_prompt_and_answers(triage):
    spec, ds = triage
    ex = ds.split("train")[0]
    messages, answer = format_example(spec, ex)
    text = messages[-1]["content"]
    assert answer == ex.label and ex.input_text() in text
    assert all(name in text for name in spec.task.label_names)
    assert spec.task.labels[0].description not in text  # compact: names only

    spec_x = extraction_spec()
    (msg,), answer = format_example(spec_x, Example("1", "Where is PX-1?", target={"order": "PX-1", "é": 1}))
    assert answer == '{"order": "PX-1", "é": 1}' and "Where is PX-1?" in msg["content"]


def test_sampling_is_stratified_and_deterministic(triage):
    spec, ds = triage
    train = ds.split("train")
    a, notes = sample_examples(spec, train, 16, seed=0)
    assert len(a) == 16 and not notes
    assert {e.label for e in a} == set(spec.task.label_names)  # every label, even at 16 for 10 labels
    assert [e.id for e in sample_examples(spec, train, 16, seed=0)[0]] == [e.id for e in a]
    assert [e.id for e in sample_examples(spec, train, 16, seed=1)[0]] != [e.id for e in a]
    big, _ = sample_examples(spec, train, 145, seed=0)  # half the split: each label about halved
    for label in spec.task.label_names:
        n_all = sum(e.label == label for e in train)
        assert abs(sum(e.label == label for e in big) - n_all / 2) <= 1.5


def test_absent_labels_warn_and_say_which(triage):
    spec, ds = triage
    partial = [e for e in ds.split("train") if e.label not in ("fraud_report", "order_status")]
    _, notes = sample_examples(spec, partial, 32, seed=0)
    assert len(notes) == 1 and "order_status" in notes[0] and "fraud_report" in notes[0]


def test_bad_input_is_a_clear_error(triage, tmp_path):
    spec, ds = triage
    train, dev = ds.split("train"), ds.split("dev")
    with pytest.raises(InputError, match="train split is empty"):
        train_lora(spec, [], dev, out_dir=tmp_path / "a", config=TINY)
    with pytest.raises(InputError, match="at least 10"):  # cannot hold one example per label
        train_lora(spec, train, dev, out_dir=tmp_path / "a", config=LoraConfigSpec(max_examples=5))
    spec_x = extraction_spec()
    items = [Example("1", "PX-1?", target={"order": "PX-1"}), Example("2", "hi", target=None)]
    with pytest.raises(InputError, match="target on every train example; missing on 2"):
        train_lora(spec_x, items, [], out_dir=tmp_path / "a", config=TINY)
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="refusing to overwrite"):
        train_lora(spec, train, dev, out_dir=tmp_path / "precious", config=TINY)
    assert not (tmp_path / "a").exists()


# -- the real SmolLM2 ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(triage, tmp_path_factory):
    os.environ.setdefault("TUNEGATE_HOME", str(Path("~/.cache/tunegate").expanduser()))
    spec, ds = triage
    out = tmp_path_factory.mktemp("lora") / "adapter"
    steps = []
    result = train_lora(spec, ds.split("train"), ds.split("dev"), out_dir=out, config=TINY,
                        progress=lambda what, done=None, total=None: steps.append((what, done, total)))
    return spec, ds, result, steps


@pytest.mark.integration
def test_smoke_run_lowers_training_loss(trained):
    spec, _, r, steps = trained
    assert steps == [("steps", 1, 4), ("steps", 2, 4), ("steps", 3, 4), ("steps", 4, 4)] and len(r.loss_history) == 4
    assert r.loss_history[0] > sum(r.loss_history[-2:]) / 2 + 0.5, r.loss_history
    assert r.dev_loss[0] < r.dev_loss_base and r.best_epoch == 1 and r.epochs_run == 1
    assert r.n_train_used == 16 and r.n_dev_used == 10 and r.device == "cpu"
    assert set(r.label_counts) == set(spec.task.label_names)
    assert 16 * 100 < r.train_tokens <= 16 * 128 and r.tokens_per_second > 0
    assert r.train_seconds >= r.step_seconds + r.load_seconds


@pytest.mark.integration
def test_adapter_directory_records_what_it_is(trained):
    import json

    spec, _, r, _ = trained
    assert sorted(p.name for p in r.adapter_dir.iterdir()) == [
        "adapter_config.json", "adapter_model.safetensors", "tunegate_adapter.json"]
    meta = json.loads((r.adapter_dir / "tunegate_adapter.json").read_text())
    assert meta["base_model"] == "local:smollm2" and meta["labels"] == spec.task.label_names
    assert meta["config"]["max_examples"] == 16 and meta["prompt_format_version"] == 1
    assert meta["stats"]["train_tokens"] == r.train_tokens and len(meta["train_ids"]) == 16


@pytest.mark.integration
def test_adapter_loads_as_a_backend_and_changes_the_scores(trained):
    from tunegate.models.local import create_local_backend

    spec, ds, r, _ = trained
    adapter = create_local_backend(f"local:{r.adapter_dir}", device="cpu")
    base = create_local_backend("local:smollm2", device="cpu")
    prompts = [format_example(spec, e)[0] for e in ds.split("test")[:2]]
    tuned = dict(adapter.label_logprobs(prompts, spec.task.label_names))
    plain = dict(base.label_logprobs(prompts, spec.task.label_names))
    for i in range(2):
        assert max(abs(a - b) for a, b in zip(tuned[i].logprobs, plain[i].logprobs, strict=True)) > 0.05

    ident, base_ident = adapter.cache_identity(), base.cache_identity()
    assert ident != base_ident and ident["base"] == "local:smollm2" and len(ident["fingerprint"]) == 16


@pytest.mark.integration
def test_retrained_adapter_gets_a_new_cache_identity(trained, tmp_path):
    """Same directory, different weights: the identity (and so every cache key) changes."""
    from safetensors.torch import load_file, save_file

    from tunegate.models.local import create_local_backend

    _, _, r, _ = trained
    copy = tmp_path / "adapter"
    shutil.copytree(r.adapter_dir, copy)
    before = create_local_backend(f"local:{copy}").cache_identity()
    weights = load_file(copy / "adapter_model.safetensors")
    save_file({k: v * 1.5 for k, v in weights.items()}, copy / "adapter_model.safetensors")
    after = create_local_backend(f"local:{copy}").cache_identity()
    assert before["fingerprint"] != after["fingerprint"]

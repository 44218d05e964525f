"""The ``lora`` probe: does learning from the labels close the gap, with a small adapter on a local causal LM?

Design choices, and why:
* **One compact prompt for training and evaluation** (instruction + label names, no long descriptions): sequences
  stay ~200 tokens, which is what makes CPU training take minutes, and the adapter is evaluated on exactly the
  format it learned (``compact_template`` is the same text the evaluation gets as a prompt file).
* **Loss on the answer tokens only**, and the 49k-vocabulary output layer is applied only at those positions:
  most of a small model's CPU time is that layer, so this is several times faster than a full-logits loss.
* **A plain torch loop** (AdamW, linear warmup/decay, early stopping on dev loss, best epoch kept) rather than
  HF Trainer: fewer moving parts, exact control of what is timed and counted.
* **Deterministic**: the training subset (stratified by label), the adapter init and the batch order follow
  ``config.seed``. bf16 autocast on CUDA, float32 on CPU.

The adapter is saved with PEFT's ``save_pretrained`` plus ``tunegate_adapter.json`` (base model, prompt format,
labels, config, stats), so ``local:ADAPTER_DIR`` loads it as a backend. torch/transformers/peft are imported
inside functions.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tunegate.data.examples import Example
from tunegate.errors import InputError, SpecError, TunegateError
from tunegate.evals.prompts import PromptTemplate
from tunegate.models.base import Message
from tunegate.progress import Progress
from tunegate.spec import Spec

PROMPT_FORMAT_VERSION = 1  # bump when COMPACT_TEMPLATES or the answer encoding changes
COMPACT_TEMPLATES = {
    "classification": "{{instruction}}\n\nLabels: {{labels}}\n\nMessage: {{input}}\n\nAnswer with the label only.",
    "extraction": "{{instruction}}\n\nInput: {{input}}\n\nAnswer with a JSON object only.",
    "generation": "{{instruction}}\n\n{{input}}",
}


@dataclass(frozen=True)
class LoraConfigSpec:
    """The probe's training budget. The defaults fit a 2-core CPU in ~3.5 minutes on the example task (~330
    tokens/s: logits are computed only on answer tokens). ``lr`` is 1e-3, not the 2e-4 common for large models:
    at 2e-4 these 32 steps teach SmolLM2 the answer format but not the task (test accuracy 0.11, chance; 1e-3
    gives 0.46 there), and a probe that underfits would wrongly say fine-tuning cannot close the gap."""

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    epochs: int = 2
    max_examples: int = 128  # training items used (stratified sample); the CPU budget
    max_length: int = 256  # tokens per sequence (prompt + answer); longer prompts are cut in the middle
    batch_size: int = 8
    lr: float = 1e-3
    seed: int = 0
    patience: int = 1  # epochs without dev-loss improvement before stopping
    max_dev: int = 64  # dev items for the early-stopping loss
    device: str | None = None  # None: cuda when available, else cpu

    def __post_init__(self) -> None:
        object.__setattr__(self, "target_modules", tuple(self.target_modules))
        checks = {
            "rank": self.rank >= 1, "alpha": self.alpha > 0, "dropout": 0 <= self.dropout < 1,
            "target_modules": bool(self.target_modules), "epochs": self.epochs >= 1,
            "max_examples": self.max_examples >= 1, "max_length": self.max_length >= 32,
            "batch_size": self.batch_size >= 1, "lr": self.lr > 0, "patience": self.patience >= 1,
            "max_dev": self.max_dev >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise InputError(f"invalid value {getattr(self, name)!r}", field=f"lora.{name}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "probe.lora") -> LoraConfigSpec:
        """Build from a spec section; an unknown key is an error naming it (a typo must not be ignored)."""
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise SpecError(f"unknown key (known: {', '.join(sorted(known))})", field=f"{where}.{key}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["target_modules"] = list(self.target_modules)
        return d


@dataclass
class LoraResult:
    """What training produced and cost. ``train_tokens`` counts real (unpadded) prompt + answer tokens over all
    steps; ``tokens_per_second`` divides them by the time spent in optimizer steps only; ``train_seconds`` is the
    whole call (model load, dev losses and saving included): what a user waits for."""

    adapter_dir: Path
    train_seconds: float
    train_tokens: int
    tokens_per_second: float
    loss_history: list[float]  # training loss per optimizer step (mean over the step's answer tokens)
    dev_loss: list[float]  # per epoch run; empty without a dev split
    best_epoch: int
    n_train_used: int
    device: str
    dev_loss_base: float | None = None  # before training: the reference the epochs should beat
    n_dev_used: int = 0
    epochs_run: int = 0
    load_seconds: float = 0.0
    step_seconds: float = 0.0
    n_truncated: int = 0  # sequences cut to max_length
    label_counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["adapter_dir"] = str(self.adapter_dir)
        return d


# ------------------------------------------------------------------------------------------------ the prompt


def compact_template(spec: Spec) -> PromptTemplate:
    """The probe's prompt, with the spec's system message (as ``load_template`` would add it at evaluation)."""
    return PromptTemplate(COMPACT_TEMPLATES[spec.task.kind], spec.eval.prompt.system,
                          f"<lora compact {spec.task.kind} template v{PROMPT_FORMAT_VERSION}>")


def answer_text(spec: Spec, example: Example) -> str:
    if spec.task.kind == "classification":
        if example.label is None:
            raise InputError("no label", file=example.source or None, field="label")
        return example.label
    if example.target is None:
        raise InputError("no target", file=example.source or None, field="target")
    if isinstance(example.target, str) and spec.task.kind == "generation":
        return example.target
    return json.dumps(example.target, ensure_ascii=False)


def format_example(spec: Spec, example: Example) -> tuple[tuple[Message, ...], str]:
    """Chat messages of the compact prompt, and the answer the model should reply with."""
    return compact_template(spec).render(spec, example), answer_text(spec, example)


# ----------------------------------------------------------------------------------------------- the data


def _check_split(spec: Spec, items: Sequence[Example], name: str) -> None:
    key = "label" if spec.task.kind == "classification" else "target"
    missing = [e.id for e in items if (e.label if key == "label" else e.target) is None]
    if missing:
        more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
        raise InputError(f"the lora probe needs a {key} on every {name} example; missing on "
                         f"{', '.join(missing[:5])}{more}", field=key)


def sample_examples(spec: Spec, items: Sequence[Example], budget: int, seed: int,
                    budget_key: str = "lora.max_examples") -> tuple[list[Example], list[str]]:
    """A deterministic sample of at most ``budget`` items, stratified by label for classification, plus warnings.

    Raises when the budget cannot hold one example of every label the split has: an adapter that never saw a
    label cannot be judged on it.
    """
    rng = random.Random(seed)
    notes: list[str] = []
    if not items:
        return [], notes
    if spec.task.kind != "classification":
        chosen = list(items) if len(items) <= budget else rng.sample(list(items), budget)
        return sorted(chosen, key=lambda e: e.id), notes
    groups: dict[str, list[Example]] = {}
    for e in sorted(items, key=lambda e: e.id):
        groups.setdefault(e.label, []).append(e)  # type: ignore[arg-type]
    absent = [lab for lab in spec.task.label_names if lab not in groups]
    if absent:
        notes.append(f"labels with no example in the split, never learned: {', '.join(absent)}")
    if budget < len(groups):
        raise InputError(f"a budget of {budget} cannot hold one example of each of the {len(groups)} labels "
                         f"present; raise it to at least {len(groups)}", field=budget_key)
    keyed = []  # systematic stratification: item j of a label of n items ranks j/n, so every label's first
    for lab in sorted(groups):  # item comes first, then each label in proportion to its size
        rng.shuffle(groups[lab])
        keyed += [(j / len(groups[lab]), lab, e) for j, e in enumerate(groups[lab])]
    chosen = [e for _, _, e in sorted(keyed, key=lambda t: (t[0], t[1]))[:budget]]
    return sorted(chosen, key=lambda e: e.id), notes


@dataclass
class _Seq:
    ids: list[int]
    n_prompt: int  # positions before the answer; the loss covers ids[n_prompt:]
    truncated: bool


def encode_example(tokenizer: Any, messages: Sequence[Message], answer: str, max_length: int) -> _Seq:
    """Prompt ids (exactly as the backend encodes them) + answer ids + end-of-turn. An over-long prompt is cut
    in the middle: its start (system, instruction) and its end (the input, the answer cue) carry the task."""
    from tunegate.models.local import encode_chat

    prompt = encode_chat(tokenizer, messages)
    eot = [] if tokenizer.eos_token_id is None else [tokenizer.eos_token_id]  # the reply ends: learn to stop
    answer_ids = tokenizer(answer, add_special_tokens=False).input_ids + eot
    truncated = len(prompt) + len(answer_ids) > max_length
    if truncated:
        answer_ids = answer_ids[: max_length - 16]  # a very long target keeps at least a 16-token prompt
        keep = max_length - len(answer_ids)
        head = keep // 3
        prompt = prompt[:head] + prompt[len(prompt) - (keep - head):]
    return _Seq(prompt + answer_ids, len(prompt), truncated)


def _batches(seqs: list[_Seq], size: int, rng: random.Random | None) -> list[list[_Seq]]:
    """Batches of similar length (less padding); shuffled in a seeded order when ``rng`` is given."""
    order = list(range(len(seqs)))
    if rng is None:
        order.sort(key=lambda i: len(seqs[i].ids))
        return [[seqs[i] for i in order[s : s + size]] for s in range(0, len(order), size)]
    rng.shuffle(order)
    out = []
    for m in range(0, len(order), size * 4):  # sort within shuffled mega-batches, then shuffle the batches
        mega = sorted(order[m : m + size * 4], key=lambda i: len(seqs[i].ids))
        out += [[seqs[i] for i in mega[s : s + size]] for s in range(0, len(mega), size)]
    rng.shuffle(out)
    return out


# ------------------------------------------------------------------------------------------------ training


def _collate(batch: list[_Seq], pad_id: int, device: str) -> tuple[Any, Any, Any]:
    """Right-padded ids, attention mask, and targets (-100 on prompt and padding)."""
    import torch

    width = max(len(s.ids) for s in batch)
    ids = torch.tensor([s.ids + [pad_id] * (width - len(s.ids)) for s in batch], device=device)
    mask = torch.tensor([[1] * len(s.ids) + [0] * (width - len(s.ids)) for s in batch], device=device)
    tgt = torch.tensor([[-100] * s.n_prompt + s.ids[s.n_prompt:] + [-100] * (width - len(s.ids)) for s in batch],
                       device=device)
    return ids, mask, tgt


def _answer_nll(lm: Any, ids: Any, mask: Any, tgt: Any) -> tuple[Any, int]:
    """Summed NLL of the answer tokens; the output layer runs only at the positions that predict them."""
    import torch

    hidden = lm.get_decoder()(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
    sel = tgt[:, 1:] != -100
    logits = lm.get_output_embeddings()(hidden[:, :-1][sel]).float()
    return torch.nn.functional.cross_entropy(logits, tgt[:, 1:][sel], reduction="sum"), int(sel.sum())


def _autocast(device: str) -> Any:
    import contextlib

    import torch

    return torch.autocast("cuda", dtype=torch.bfloat16) if device.startswith("cuda") else contextlib.nullcontext()


def _dev_loss(lm: Any, seqs: list[_Seq], cfg: LoraConfigSpec, pad_id: int, device: str) -> float:
    import torch

    lm.eval()
    total, n = 0.0, 0
    with torch.no_grad(), _autocast(device):
        for batch in _batches(seqs, cfg.batch_size * 2, None):
            s, k = _answer_nll(lm, *_collate(batch, pad_id, device))
            total, n = total + float(s), n + k
    return total / max(n, 1)


def _resolve_device(requested: str | None) -> str:
    import torch

    from tunegate.models.local import _default_device

    device = _default_device(requested)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TunegateError(f"device '{device}' was requested but torch sees no CUDA device")
    return device


def _load_base(base_model_id: str, device: str) -> tuple[Any, Any, str, str]:
    """A private float32 copy of the base model (the backend's shared copy must not get LoRA layers), its
    tokenizer, the id to record, and the base's fingerprint."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunegate.models import local

    mid = base_model_id if base_model_id.startswith("local:") else f"local:{base_model_id}"
    source = local.resolve_local_model(mid)
    if local.is_adapter_dir(source):
        raise InputError(f"'{mid}' is an adapter; train the lora probe on a base model", field="base_model")
    local.set_offline()
    model_dir = local.converted_model_dir(source) if source.is_file() else source
    with local.quiet_progress():
        tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, local_files_only=True)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    recorded = mid if mid.removeprefix("local:") in local.BUILTIN_MODELS else f"local:{source}"
    return model.to(device), tok, recorded, local.source_fingerprint(source)


def _prepare_out_dir(out_dir: Path) -> None:
    """Refuse to replace a directory that holds something other than a previous adapter."""
    from tunegate.models.local import ADAPTER_META

    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / ADAPTER_META).is_file():
        raise InputError("refusing to overwrite a non-empty directory that is not a tunegate adapter", file=out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)


def train_lora(
    spec: Spec,
    train: list[Example],
    dev: list[Example],
    *,
    base_model_id: str = "local:smollm2",
    out_dir: Path,
    config: LoraConfigSpec = LoraConfigSpec(),  # noqa: B008 - frozen, so a shared default is safe
    progress: Progress | None = None,
) -> LoraResult:
    """Train a LoRA adapter on ``train`` (early stopping on ``dev`` loss), save it to ``out_dir``, report cost."""
    t_start = time.perf_counter()
    out_dir = Path(out_dir).expanduser().resolve()
    if not train:
        raise InputError("the train split is empty: the lora probe has nothing to learn from", field="split")
    _check_split(spec, train, "train")
    _check_split(spec, dev, "dev")
    _prepare_out_dir(out_dir)
    used, notes = sample_examples(spec, train, config.max_examples, config.seed)
    dev_used = sample_examples(spec, dev, config.max_dev, config.seed, "lora.max_dev")[0] if config.max_dev else []
    if not dev_used:
        notes.append("no dev examples: no early stopping, the last epoch is kept")
    for note in notes:
        warnings.warn(f"lora probe: {note}", stacklevel=2)

    import torch
    from peft import LoraConfig, get_peft_model

    device = _resolve_device(config.device)
    model, tok, base_record, base_fp = _load_base(base_model_id, device)
    torch.manual_seed(config.seed)
    with warnings.catch_warnings():  # transformers' deprecation notices from inside peft
        warnings.simplefilter("ignore", FutureWarning)
        model = get_peft_model(model, LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                                                 target_modules=list(config.target_modules), task_type="CAUSAL_LM"))
    load_s = time.perf_counter() - t_start
    template = compact_template(spec)
    encode = lambda e: encode_example(tok, template.render(spec, e), answer_text(spec, e), config.max_length)  # noqa: E731
    train_seqs, dev_seqs = [encode(e) for e in used], [encode(e) for e in dev_used]
    fit = _fit(model, train_seqs, dev_seqs, config, tok.pad_token_id, device, progress)

    counts: dict[str, int] = {}
    for e in used:
        if e.label is not None:
            counts[e.label] = counts.get(e.label, 0) + 1
    result = LoraResult(
        adapter_dir=out_dir, train_seconds=round(time.perf_counter() - t_start, 3), n_train_used=len(used),
        device=device, n_dev_used=len(dev_used), load_seconds=round(load_s, 3), warnings=notes,
        n_truncated=sum(s.truncated for s in train_seqs + dev_seqs), label_counts=dict(sorted(counts.items())), **fit,
    )
    _save(model, spec, result, config, base_record, base_fp, template, [e.id for e in used])
    result.train_seconds = round(time.perf_counter() - t_start, 3)  # the adapter records it without the save
    return result


def _fit(model: Any, train_seqs: list[_Seq], dev_seqs: list[_Seq], config: LoraConfigSpec, pad: int, device: str,
         progress: Progress | None) -> dict[str, Any]:
    """The training loop: AdamW, linear warmup (10%) and decay, per-epoch dev loss, the best epoch restored."""
    import torch

    lm = model.get_base_model()  # the causal LM with LoRA layers injected: its decoder and head are called directly
    trainable = [p for p in model.parameters() if p.requires_grad]
    total = math.ceil(len(train_seqs) / config.batch_size) * config.epochs
    warm = max(1, round(0.1 * total))
    opt = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))
    dev_base = round(_dev_loss(lm, dev_seqs, config, pad, device), 5) if dev_seqs else None
    losses: list[float] = []
    dev_losses: list[float] = []
    best: tuple[float, int, dict[str, Any]] = (math.inf, 0, {})
    tokens, step_s, stale, epoch = 0, 0.0, 0, 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        for batch in _batches(train_seqs, config.batch_size, random.Random(config.seed * 1009 + epoch)):
            t0 = time.perf_counter()
            ids, mask, tgt = _collate(batch, pad, device)
            with _autocast(device):
                loss_sum, n = _answer_nll(lm, ids, mask, tgt)
            loss = loss_sum / n
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(round(loss.item(), 5))  # .item() syncs CUDA, so the step time below is real
            step_s += time.perf_counter() - t0
            tokens += int(mask.sum())
            if progress:
                progress("steps", len(losses), total)
        if not dev_seqs:
            best = (math.inf, epoch, {})
            continue
        dev_losses.append(round(_dev_loss(lm, dev_seqs, config, pad, device), 5))
        if dev_losses[-1] < best[0]:
            state = {k: p.detach().clone() for k, p in model.named_parameters() if p.requires_grad}
            best, stale = (dev_losses[-1], epoch, state), 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    with torch.no_grad():
        for k, p in model.named_parameters():
            if k in best[2]:
                p.copy_(best[2][k])
    return {"train_tokens": tokens, "tokens_per_second": round(tokens / step_s, 1) if step_s else 0.0,
            "loss_history": losses, "dev_loss": dev_losses, "best_epoch": best[1], "dev_loss_base": dev_base,
            "epochs_run": epoch, "step_seconds": round(step_s, 3)}


def _save(model: Any, spec: Spec, result: LoraResult, config: LoraConfigSpec, base_record: str, base_fp: str,
          template: PromptTemplate, train_ids: list[str]) -> None:
    """PEFT files + ``tunegate_adapter.json`` into a temp dir, then swapped in: no half-written adapter."""
    from tunegate.artifacts import now_iso, package_versions
    from tunegate.models.local import ADAPTER_META

    out_dir = result.adapter_dir
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        model.save_pretrained(str(tmp))
        (tmp / "README.md").unlink(missing_ok=True)  # PEFT's empty model-card template
        meta = {
            "schema_version": 1, "base_model": base_record, "base_fingerprint": base_fp,
            "prompt_format_version": PROMPT_FORMAT_VERSION, "prompt_template": template.text,
            "prompt_system": template.system, "task": spec.task.name, "task_kind": spec.task.kind,
            "labels": spec.task.label_names, "config": config.to_dict(),
            "stats": {k: v for k, v in result.to_dict().items() if k not in ("adapter_dir", "loss_history")},
            "loss_history": result.loss_history, "train_ids": train_ids, "created": now_iso(),
            "packages": package_versions(("torch", "transformers", "peft")),
        }
        (tmp / ADAPTER_META).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.chmod(0o755)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.rename(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

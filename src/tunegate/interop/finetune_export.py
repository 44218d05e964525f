"""Training files for a FINE_TUNE verdict: OpenAI chat fine-tuning JSONL and a Hugging Face ``datasets`` file.

Why the probe's format: the LoRA probe measured what fine-tuning buys with ``probe.lora.format_example`` (its
compact prompt and answer encoding); training the real model on the same text is what makes the probe's number a
forecast rather than an anecdote. Train -> the training file, dev -> the validation file; the test split is never
exported (it stays the held-out judge). Labels come from the examples file, or from the data gate's adjudicated
labels (``tunegate audit --export-labels``: item_id,label) when given — those override, and are counted.

Token counts use ``tiktoken`` (o200k_base) when installed, else an estimate of 4 characters per token (said so).
The cost is tokens x epochs x the price per 1M training tokens, a number the user should check against the
provider's current price list.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunegate.data.examples import Example, load_examples
from tunegate.errors import InputError
from tunegate.probe.lora import PROMPT_FORMAT_VERSION, format_example
from tunegate.spec import Spec

ROLES = ("system", "user", "assistant")


@dataclass
class FinetuneExport:
    files: dict[str, str]
    counts: dict[str, int]
    tokens: dict[str, int]
    token_method: str
    epochs: int
    price_per_1m: float
    cost_usd: float
    relabeled: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def read_label_overrides(path: str | Path) -> dict[str, str]:
    """item_id -> label from a CSV with item_id and label columns (``tunegate audit --export-labels``)."""
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", file=p)
    out: dict[str, str] = {}
    with p.open(newline="", encoding="utf-8") as fh:
        r = csv.DictReader(fh)
        for col in ("item_id", "label"):
            if col not in (r.fieldnames or []):
                raise InputError(f"missing column '{col}' (found: {', '.join(r.fieldnames or [])})", file=p, line=1,
                                 field=col)
        for line, row in enumerate(r, start=2):
            if not (row["item_id"] or "").strip() or not (row["label"] or "").strip():
                raise InputError("empty item_id or label", file=p, line=line, field="label")
            out[row["item_id"].strip()] = row["label"].strip()
    return out


def chat_record(spec: Spec, ex: Example) -> dict[str, Any]:
    messages, answer = format_example(spec, ex)
    return {"messages": [{"role": m["role"], "content": m["content"]} for m in messages]
            + [{"role": "assistant", "content": answer}]}


def validate_chat_record(rec: Any, where: str) -> None:
    """OpenAI chat fine-tuning rules that a file upload would reject: roles, exactly one assistant turn (last),
    no empty content."""
    if not isinstance(rec, dict) or not isinstance(rec.get("messages"), list) or not rec["messages"]:
        raise InputError(f"{where}: needs a non-empty 'messages' list", field="messages")
    roles = [m.get("role") for m in rec["messages"]]
    if any(r not in ROLES for r in roles):
        raise InputError(f"{where}: unknown role in {roles}", field="messages.role")
    if roles.count("assistant") != 1 or roles[-1] != "assistant":
        raise InputError(f"{where}: needs exactly one assistant message, last (roles: {roles})", field="messages")
    if "user" not in roles or ("system" in roles and roles.index("system") != 0):
        raise InputError(f"{where}: needs a user message and system (if any) first (roles: {roles})",
                         field="messages")
    for m in rec["messages"]:
        if not isinstance(m.get("content"), str) or not m["content"].strip():
            raise InputError(f"{where}: empty {m.get('role')} content", field="messages.content")


def _count_tokens(texts: list[str]) -> tuple[list[int], str]:
    try:
        import tiktoken

        enc = tiktoken.get_encoding("o200k_base")
        return [len(enc.encode(t)) for t in texts], "tiktoken o200k_base"
    except Exception:  # not installed, or its encoding file cannot be fetched offline
        return [max(1, (len(t) + 3) // 4) for t in texts], "estimate: 4 characters per token (tiktoken not available)"


def export_finetune(spec: Spec, out_dir: str | Path, *, labels_file: str | Path | None = None,
                    epochs: int = 3, price_per_1m: float = 3.0, parquet: bool = True) -> FinetuneExport:
    """Write train.jsonl / validation.jsonl (OpenAI chat) and hf/{train,validation}.jsonl (+ .parquet): rows of
    id, messages, prompt, completion, label."""
    if epochs < 1:
        raise InputError("--epochs must be at least 1", field="epochs")
    dataset = load_examples(spec)
    overrides = read_label_overrides(labels_file) if labels_file else {}
    known = set(spec.task.label_names)
    relabeled = 0
    out = Path(out_dir)
    (out / "hf").mkdir(parents=True, exist_ok=True)
    files, counts, tokens = {}, {}, {}
    method = ""
    for split, name in (("train", "train"), ("dev", "validation")):
        items = dataset.split(split)
        if not items:
            raise InputError(f"the '{split}' split is empty: nothing to export", field="data.split")
        recs, rows, texts = [], [], []
        for ex in items:
            if ex.id in overrides:
                lab = overrides[ex.id]
                if known and lab not in known:
                    raise InputError(f"item {ex.id}: adjudicated label '{lab}' is not one of the task's labels",
                                     file=labels_file, field="label")
                if lab != ex.label:
                    relabeled += 1
                    ex = dataclasses.replace(ex, label=lab)
            rec = chat_record(spec, ex)
            validate_chat_record(rec, f"{split} item {ex.id}")
            recs.append(rec)
            msgs = rec["messages"]
            rows.append({"id": ex.id, "messages": msgs, "prompt": "\n\n".join(m["content"] for m in msgs[:-1]),
                         "completion": msgs[-1]["content"], "label": ex.label})
            texts.append("".join(m["content"] for m in msgs))
        per, method = _count_tokens(texts)
        tokens[name] = sum(per) + 4 * sum(len(r["messages"]) for r in recs)  # ~4 tokens of chat framing a turn
        counts[name] = len(recs)
        for path, data in ((out / f"{name}.jsonl", recs), (out / "hf" / f"{name}.jsonl", rows)):
            with path.open("w", encoding="utf-8") as fh:
                for r in data:
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        files[f"openai_{name}"] = str(out / f"{name}.jsonl")
        files[f"hf_{name}"] = str(out / "hf" / f"{name}.jsonl")
        if parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(rows), out / "hf" / f"{name}.parquet")
            files[f"hf_{name}_parquet"] = str(out / "hf" / f"{name}.parquet")
    cost = tokens["train"] * epochs * price_per_1m / 1e6
    notes = [f"prompt format: the probe's compact {spec.task.kind} template v{PROMPT_FORMAT_VERSION}",
             "the test split is not exported: it stays the held-out judge",
             "cost = training tokens x epochs x price per 1M training tokens; check the provider's current price"]
    result = FinetuneExport(files, counts, tokens, method, epochs, price_per_1m, round(cost, 4), relabeled, notes)
    (out / "finetune_export.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return result

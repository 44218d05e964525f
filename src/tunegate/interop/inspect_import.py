"""Inspect AI logs -> imported runs, one per epoch.

Reads both log formats Inspect writes: ``.eval`` (a zip with ``header.json`` and ``samples/<id>_epoch_<n>.json``;
members are zstd-compressed (as Inspect 0.3.285 writes them), which Python's zipfile cannot open before 3.14, so members are
read raw and decompressed with pyarrow's zstd codec, else ``zstandard``) and the JSON log (one
object with ``eval``, ``results`` and ``samples``).

Score values are mapped as Inspect's own ``value_to_float`` maps them: C -> 1, I -> 0, P -> 0.5, N (no answer)
-> 0, yes/true -> 1, no/false -> 0, numbers and numeric strings as numbers. A sample with an ``error`` counts as
failed (0) — Inspect itself leaves errored samples out of its accuracy, so both numbers are recorded. A sample
with no score for the chosen scorer is unscored (counted, not folded in). Each epoch becomes its own run so that
``tunegate compare`` can pair epochs (or an epoch with a tunegate run) by sample id.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path
from typing import Any

from tunegate.errors import InputError
from tunegate.interop.runs import ImportedItem, ImportedRun

_STRINGS = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0, "yes": 1.0, "no": 0.0, "true": 1.0, "false": 0.0}
ZIP_ZSTD = 93


def score_value(value: Any, *, where: str, file: Path) -> float | None:
    """Inspect's value_to_float, strict: a value it would silently turn into 0 (a list or dict) is an error here."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        v = value.strip()
        if v in _STRINGS:
            return _STRINGS[v]
        if v.lower() in _STRINGS:
            return _STRINGS[v.lower()]
        try:
            return float(v)
        except ValueError:
            pass
    raise InputError(f"{where}: score value {value!r} is not C/I/P/N, yes/no, true/false or a number (a "
                     "dict-valued score needs its key chosen: pass --scorer SCORER.KEY)", file=file)


def _zstd_decompress(data: bytes, size: int, file: Path) -> bytes:
    """pyarrow's codec first (a default dependency); ``zstandard`` reading across frames (Inspect flushes several
    frames into one member) otherwise."""
    try:
        import pyarrow as pa

        return pa.Codec("zstd").decompress(data, decompressed_size=size).to_pybytes()
    except ImportError:
        pass
    try:
        import io

        import zstandard

        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True) as r:
            return r.read()
    except ImportError:
        raise InputError("this .eval log is zstd-compressed: install `zstandard` (or pyarrow) to read it",
                         file=file) from None


def _read_member(zf: zipfile.ZipFile, raw: Any, info: zipfile.ZipInfo, file: Path) -> bytes:
    if info.compress_type != ZIP_ZSTD:
        return zf.read(info)
    raw.seek(info.header_offset)
    head = raw.read(30)
    if head[:4] != b"PK\x03\x04":
        raise InputError(f"corrupt zip member {info.filename}", file=file)
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    raw.seek(info.header_offset + 30 + name_len + extra_len)
    return _zstd_decompress(raw.read(info.compress_size), info.file_size, file)


def read_log(path: str | Path) -> dict[str, Any]:
    """The log as one JSON-like dict (``eval``, ``results``, ``stats``, ``samples``), whichever format it is in."""
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", file=p)
    if zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as zf, p.open("rb") as raw:
            infos = {i.filename: i for i in zf.infolist()}

            def load(name: str) -> Any:
                try:
                    return json.loads(_read_member(zf, raw, infos[name], p))
                except ValueError as exc:
                    raise InputError(f"{name}: invalid JSON ({exc})", file=p) from None

            if "header.json" in infos:
                log = load("header.json")
            elif "_journal/start.json" in infos:  # a run that never finished: no header yet
                log = {**load("_journal/start.json"), "status": "started"}
            else:
                raise InputError("not an Inspect .eval log (no header.json)", file=p)
            log["samples"] = [load(n) for n in sorted(infos) if n.startswith("samples/") and n.endswith(".json")]
            return log
    try:
        log = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"invalid JSON ({exc})", file=p) from None
    if not isinstance(log, dict) or "eval" not in log:
        raise InputError("not an Inspect log: no 'eval' block (expected a .eval file or a JSON log)", file=p)
    return log


def _output_text(sample: dict[str, Any]) -> str | None:
    out = sample.get("output") or {}
    if out.get("completion"):
        return out["completion"]
    for ch in out.get("choices") or []:
        content = (ch.get("message") or {}).get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(c.get("text", "") for c in content if isinstance(c, dict))
    return None


def _error_line(message: str) -> str:
    """Inspect's error message embeds the whole request; its last line names the error."""
    lines = [ln.strip() for ln in str(message).splitlines() if ln.strip()]
    return (lines[-1].rstrip("')\"") if lines else "error") or "error"


def _pick(scores: dict[str, Any], scorer: str | None) -> tuple[str, str | None]:
    """(scorer name, key inside a dict value or None) from 'NAME' or 'NAME.KEY'."""
    if scorer is None:
        return "", None
    name, _, key = scorer.partition(".")
    return name, key or None


def import_inspect(path: str | Path, *, scorer: str | None = None) -> list[ImportedRun]:
    """One ImportedRun per epoch. ``scorer`` (``NAME`` or ``NAME.KEY``) picks a scorer; default: the log's
    headline scorer, else its only scorer."""
    p = Path(path)
    log = read_log(p)
    ev = log.get("eval") or {}
    results = log.get("results") or {}
    names = [s.get("name") for s in results.get("scores") or []] or [s.get("name") for s in ev.get("scorers") or []]
    name, key = _pick({}, scorer)
    if not name:
        headline = (results.get("headline") or {}).get("scorer")
        if headline:
            name = headline
        elif len(set(names)) == 1:
            name = names[0]
        else:
            raise InputError(f"several scorers ({', '.join(map(str, names))}); pass --scorer", file=p)
    if names and name not in names:
        raise InputError(f"no scorer named '{name}' (found: {', '.join(map(str, names))})", file=p)
    samples = log.get("samples") or []
    if not samples:
        raise InputError("the log holds no samples (was it written with --no-log-samples?)", file=p)
    by_epoch: dict[int, list[ImportedItem]] = {}
    for s in samples:
        sid, epoch = str(s.get("id")), int(s.get("epoch") or 1)
        where = f"sample {sid} epoch {epoch}"
        err = s.get("error")
        err_text = _error_line(err.get("message") if isinstance(err, dict) else str(err)) if err else None
        sc = (s.get("scores") or {}).get(name)
        raw = None if sc is None else sc.get("value")
        if key is not None and raw is not None:
            if not isinstance(raw, dict) or key not in raw:
                raise InputError(f"{where}: score '{name}' has no key '{key}'", file=p)
            raw = raw[key]
        value = None if err_text else score_value(raw, where=where, file=p)
        usage = next(iter((s.get("model_usage") or {}).values()), {}) or {}
        by_epoch.setdefault(epoch, []).append(ImportedItem(
            id=sid, value=value, output=_output_text(s), gold=s.get("target"), error=err_text, raw=raw,
            input_tokens=int(usage.get("input_tokens") or 0), output_tokens=int(usage.get("output_tokens") or 0)))
    version = (ev.get("packages") or {}).get("inspect_ai", "?")
    task = ev.get("task") or p.stem
    metrics = {}
    for s in results.get("scores") or []:
        if s.get("name") == name:
            metrics = {m: v.get("value") for m, v in (s.get("metrics") or {}).items()}
    runs = []
    for epoch in sorted(by_epoch):
        items = sorted(by_epoch[epoch], key=lambda it: it.id)
        runs.append(ImportedRun(
            name=f"epoch-{epoch}", task=str(task), model=str(ev.get("model") or "?"),
            prompt_source=f"inspect task {task} ({ev.get('task_file') or '?'}), epoch {epoch}",
            items=items, tool=f"inspect_ai {version}", source_file=str(p), scorer=scorer or name,
            tool_reported={"status": log.get("status"), "metrics_all_epochs": metrics,
                           "note": "Inspect leaves errored samples out of its metrics; here they count as failed"},
            usage={"model_usage": (log.get("stats") or {}).get("model_usage") or {}}))
    return runs

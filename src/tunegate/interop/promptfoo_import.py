"""promptfoo results (``promptfoo eval -o results.json``) -> imported runs, one per prompt x provider.

Per result: ``success`` true -> 1, false -> 0 (what promptfoo's pass rate counts); an ``error`` result
(``failureReason`` 2: the provider call or an assertion crashed) counts as failed, never dropped. With
``--score named:NAME`` the value is the named score instead (``namedScores[NAME]``, e.g. a metric set on an
assertion); ``--score score`` uses promptfoo's aggregate ``score``. Every named score is kept beside the primary
one. The item id is the test's ``vars[id_var]`` (default ``id``), else ``test-<testIdx>``; the same test in two
runs gets the same id, so ``tunegate compare`` pairs prompts or providers item by item.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tunegate.errors import InputError
from tunegate.interop.runs import ImportedItem, ImportedRun, safe_name

ERROR_REASON = 2  # promptfoo ResultFailureReason.ERROR (1 = ASSERT, 0 = NONE)


def _load(p: Path) -> dict[str, Any]:
    if not p.exists():
        raise InputError("file not found", file=p)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"invalid JSON ({exc})", file=p) from None
    res = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(res, dict) or not isinstance(res.get("results"), list):
        raise InputError("not a promptfoo results file: expected results.results (write it with "
                         "`promptfoo eval -o results.json`)", file=p, field="results.results")
    return doc


def _value(r: dict[str, Any], score: str, where: str, p: Path) -> float | None:
    if score == "pass":
        return 1.0 if r.get("success") else 0.0
    if score == "score":
        v = r.get("score")
    elif score.startswith("named:"):
        v = (r.get("namedScores") or {}).get(score[len("named:"):])
        if v is None and r.get("success") is not None and not r.get("error"):
            return None  # this test has no assertion feeding that metric: unscored, not wrong
    else:
        raise InputError(f"--score must be pass, score or named:NAME, not '{score}'", field="score")
    if v is None:
        return None
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        raise InputError(f"{where}: score {v!r} is not a number", file=p)
    return float(v)


def import_promptfoo(path: str | Path, *, score: str = "pass", id_var: str = "id",
                     gold_var: str | None = None, task: str | None = None) -> list[ImportedRun]:
    p = Path(path)
    doc = _load(p)
    res = doc["results"]
    prompts = res.get("prompts") or []
    version = (doc.get("metadata") or {}).get("promptfooVersion", "?")
    groups: dict[tuple[int, str], list[tuple[int, dict]]] = {}
    labels: dict[str, str] = {}
    for n, r in enumerate(res["results"]):
        if not isinstance(r, dict):
            raise InputError(f"result #{n}: expected an object", file=p, field="results.results")
        prov = r.get("provider") or {}
        prov_id = str(prov.get("id") or prov.get("label")) if isinstance(prov, dict) else str(prov)
        labels[prov_id] = str(prov.get("label") or prov_id) if isinstance(prov, dict) else prov_id
        groups.setdefault((int(r.get("promptIdx") or 0), prov_id), []).append((n, r))
    task = task or (doc.get("config") or {}).get("description") or p.stem
    runs = []
    for (pidx, prov_id), rows in sorted(groups.items()):
        prompt = prompts[pidx] if pidx < len(prompts) else {}
        label = prompt.get("label") or rows[0][1].get("prompt", {}).get("label") or f"prompt-{pidx}"
        items = []
        for n, r in rows:
            vars_ = r.get("vars") or (r.get("testCase") or {}).get("vars") or {}
            iid = vars_.get(id_var)
            iid = str(iid) if iid not in (None, "") else f"test-{r.get('testIdx', n)}"
            where = f"result #{n} (test {iid}, prompt {label}, provider {prov_id})"
            errored = r.get("failureReason") == ERROR_REASON or (r.get("response") or {}).get("error")
            err = str(r.get("error") or (r.get("response") or {}).get("error") or "error") if errored else None
            usage = r.get("tokenUsage") or (r.get("response") or {}).get("tokenUsage") or {}
            named = {f"named:{k}": float(v) for k, v in (r.get("namedScores") or {}).items()
                     if isinstance(v, (int, float)) and not isinstance(v, bool)}
            items.append(ImportedItem(
                id=iid, value=None if err else _value(r, score, where, p),
                output=(r.get("response") or {}).get("output") if not err else None,
                gold=vars_.get(gold_var) if gold_var else None, error=err,
                raw={"success": r.get("success"), "score": r.get("score"), "failureReason": r.get("failureReason")},
                extra_scores={k: v for k, v in named.items() if k != score},
                input_tokens=int(usage.get("prompt") or 0), output_tokens=int(usage.get("completion") or 0)))
        metrics = (prompt.get("metrics") or {}) if prompt.get("provider") in (None, prov_id, labels[prov_id]) else {}
        runs.append(ImportedRun(
            name=safe_name(f"{label}__{labels[prov_id]}"), task=str(task), model=str(prov_id),
            prompt_source=f"promptfoo prompt '{label}': {prompt.get('raw', '')}", items=items,
            tool=f"promptfoo {version}", source_file=str(p), scorer=score,
            tool_reported={k: metrics.get(k) for k in ("testPassCount", "testFailCount", "testErrorCount",
                                                       "namedScores")} if metrics else {},
            usage={"tokens": (metrics.get("tokenUsage") or {}) if metrics else {}, "cost": metrics.get("cost")}))
    return runs

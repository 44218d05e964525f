"""Item-level results of a run directory: every test item with each finalist's answer, the probe's prediction
and every score, read from the files the stages already write.

Sources, each optional (stages run independently): ``sprint_results.jsonl`` (finalists and the zero-shot baseline
on test), ``results.jsonl`` beside every ``eval.json`` (``sprint-best/`` is skipped when the sprint's own file
was read: it repeats the best finalist), ``probe-*/results.jsonl`` (LoRA or external probes), and per-item
predictions in ``probe.json`` where a probe stores them (each probe's ``items``, as the embedding head writes
them; older files: ``items`` / ``predictions`` beside the probes). No results file holds the input text, so inputs come from the
spec the artifacts name (``run.spec_path``) when it still loads, and only for items whose gold answer there
equals the recorded one: a changed data file must not put another item's text beside these answers.

Reading never raises: a malformed line is counted and skipped, a missing file is a note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunegate.report.collect import RunArtifacts
from tunegate.report.doc import as_dict, num

MAX_ITEMS = 5000  # items shown in the viewer (a larger test split is cut, and the page says so)
MAX_CANDIDATES = 8
MAX_TEXT = 2000  # characters of an input or output kept per cell
MAX_LINES = 200_000  # lines read from one results file


@dataclass
class Candidate:
    """One column of answers: a sprint finalist, the baseline, an evaluation run, or a probe."""

    key: str
    name: str
    kind: str  # best | finalist | baseline | eval | probe
    source: str


@dataclass
class Answer:
    output: str | None
    prediction: Any
    scores: dict[str, Any]
    primary: float | None
    error: str | None = None

    @property
    def wrong(self) -> bool:
        """Wrong = an error, unscored, or a primary score below 0.5 (0/1 scores: 0)."""
        return self.error is not None or self.primary is None or self.primary < 0.5


@dataclass
class Item:
    id: str
    split: str | None = None
    gold: Any = None
    input: str | None = None
    slices: dict[str, str] = field(default_factory=dict)
    answers: dict[str, Answer] = field(default_factory=dict)


@dataclass
class ItemTable:
    candidates: list[Candidate] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    n_items_total: int = 0
    primary: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> Candidate | None:
        return next((c for c in self.candidates if c.kind == "best"), self.candidates[0] if self.candidates else None)


def _clip(text: Any) -> str | None:
    if text is None:
        return None
    s = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False, default=str)
    return s if len(s) <= MAX_TEXT else s[:MAX_TEXT] + f" … ({len(s) - MAX_TEXT:,} more characters)"


def _rows(path: Path, arts: RunArtifacts, notes: list[str]):
    bad = 0
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            for i, line in enumerate(fh):
                if i >= MAX_LINES:
                    notes.append(f"{arts.rel(path)}: only the first {MAX_LINES:,} lines were read")
                    break
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    bad += 1
                    continue
                if isinstance(rec, dict) and rec.get("id") is not None:
                    yield rec
                else:
                    bad += 1
    except OSError as exc:
        notes.append(f"{arts.rel(path)} could not be read: {exc}")
    if bad:
        notes.append(f"{arts.rel(path)}: {bad} malformed line(s) skipped")


def _primary(rec: dict[str, Any], primary: str | None) -> float | None:
    if "scored" in rec and rec.get("scored") is False:
        return None
    if num(rec.get("score")) is not None:  # the sprint's primary score
        return num(rec["score"])
    scores = as_dict(rec.get("scores"))
    for name in (primary, "label_match"):
        if name and name in scores:
            return num(scores[name])
    vals = [num(v) for v in scores.values()]
    return vals[0] if vals else None


class _Builder:
    def __init__(self, arts: RunArtifacts) -> None:
        self.arts = arts
        self.t = ItemTable()
        self.items: dict[str, Item] = {}
        self.t.primary = arts.sprint.primary_scorer if arts.sprint is not None else None

    def candidate(self, name: str, kind: str, source: str) -> str | None:
        if len(self.t.candidates) >= MAX_CANDIDATES:
            self.t.notes.append(f"{name} ({source}) is not shown: at most {MAX_CANDIDATES} answer columns")
            return None
        key = f"c{len(self.t.candidates)}"
        self.t.candidates.append(Candidate(key, name, kind, source))
        return key

    def add(self, key: str, rec: dict[str, Any]) -> None:
        item_id = str(rec["id"])
        it = self.items.get(item_id)
        if it is None:
            it = self.items[item_id] = Item(item_id)
        it.split = it.split or (str(rec["split"]) if rec.get("split") is not None else None)
        if it.gold is None and rec.get("gold") is not None:
            it.gold = rec["gold"]
        if not it.slices and isinstance(rec.get("slices"), dict):
            it.slices = {str(k): str(v) for k, v in rec["slices"].items()}
        if it.input is None and rec.get("input") is not None:
            it.input = _clip(rec["input"])
        it.answers[key] = Answer(_clip(rec.get("output")), rec.get("prediction"), as_dict(rec.get("scores")),
                                 _primary(rec, self.t.primary), _clip(rec.get("error")) if rec.get("error") else None)

    def sprint(self) -> bool:
        path = self.arts.run_dir / "sprint_results.jsonl"
        if not path.is_file():
            return False
        sprint = self.arts.sprint
        best = sprint.best.candidate if sprint is not None else None
        baseline = sprint.baseline.name if sprint is not None else None
        flags = {c.name: c.baseline for c in (sprint.candidates if sprint is not None else [])}
        by_name: dict[str, list[dict]] = {}
        for rec in _rows(path, self.arts, self.t.notes):
            by_name.setdefault(str(rec.get("candidate", "?")), []).append(rec)
        order = sorted(by_name, key=lambda n: (n != best, n == baseline or flags.get(n, False)))
        for name in order:
            kind = "best" if name == best else "baseline" if (name == baseline or flags.get(name)) else "finalist"
            key = self.candidate(name, kind, "sprint_results.jsonl")
            if key:
                for rec in by_name[name]:
                    self.add(key, rec)
        return True

    def evals(self, skip_sprint_best: bool) -> None:
        for path, e in self.arts.evals:
            res = path.parent / "results.jsonl"
            rel = self.arts.rel(path.parent)
            if not res.is_file() or (skip_sprint_best and path.parent.name == "sprint-best"):
                continue
            is_probe = path.parent.name.startswith("probe-")
            name = ("probe: " if is_probe else "") + " · ".join(
                str(x) for x in (e.model or rel, Path(e.prompt_source).name) if x)
            key = self.candidate(f"{name} [{rel}]", "probe" if is_probe else "eval", f"{rel}/results.jsonl")
            if key:
                for rec in _rows(res, self.arts, self.t.notes):
                    self.add(key, rec)

    def probe_predictions(self) -> None:
        """A column per probe that stored its predictions in probe.json (the embedding head does), else the
        predictions an older file wrote beside the probes."""
        probe = self.arts.probe
        if probe is None:
            return
        stored = [(p.name or "fine-tune probe", p.items) for p in probe.probes if p.items]
        if not stored and (legacy := probe.legacy_predictions()):
            stored = [(next((p.name for p in probe.probes if p.name), "fine-tune probe"), legacy)]
        for name, preds in stored:
            self._probe_column(name, [(str(p.id), p.prediction) for p in preds])

    def _probe_column(self, name: str, pairs: list[tuple[str, Any]]) -> None:
        key = self.candidate(f"probe: {name}", "probe", "probe.json")
        if not key:
            return
        for item_id, pred in pairs:
            it = self.items.get(item_id) or self.items.setdefault(item_id, Item(item_id))
            ok = None if it.gold is None or pred is None else float(str(pred) == str(it.gold))
            self.add(key, {"id": item_id, "prediction": pred, "scores": {"correct": ok}, "score": ok,
                           "scored": ok is not None})

    def inputs(self) -> None:
        """Input texts from the spec the artifacts name (see the module docstring for why gold must match)."""
        need = [it for it in self.items.values() if it.input is None]
        if not need:
            return
        runs = [a.run for a in [*self.arts.data.values(), *(e for _, e in self.arts.evals)]]
        spec_path = next((r.spec_path for r in runs if r.spec_path), None)
        if not spec_path or not Path(spec_path).is_file():
            self.t.notes.append("Inputs are not shown: the results files do not store them and the spec the run "
                                "used (run.spec_path) is " + ("not recorded." if not spec_path else
                                                             f"not found at {spec_path}."))
            return
        try:
            from tunegate.data.examples import load_examples
            from tunegate.spec import load_spec

            examples = {e.id: e for e in load_examples(load_spec(spec_path), skip_invalid=True).examples}
        except Exception as exc:  # noqa: BLE001 - inputs are a convenience; the report must still render
            self.t.notes.append(f"Inputs are not shown: {spec_path} could not be loaded ({type(exc).__name__}: "
                                f"{str(exc)[:300]}).")
            return
        mismatched = 0
        for it in need:
            ex = examples.get(it.id)
            if ex is None:
                continue
            if it.gold is not None and str(ex.gold) != str(it.gold):
                mismatched += 1
                continue
            it.input = _clip(ex.input_text())
        if mismatched:
            self.t.notes.append(f"{mismatched} item(s) have another gold answer in the data today than in the "
                                f"results: their inputs from {spec_path} are not shown.")

    def build(self) -> ItemTable:
        read_sprint = self.sprint()
        self.evals(skip_sprint_best=read_sprint)
        self.probe_predictions()
        items = list(self.items.values())
        self.t.n_items_total = len(items)
        if len(items) > MAX_ITEMS:
            self.t.notes.append(f"{len(items):,} items: the first {MAX_ITEMS:,} (in id order) are shown.")
        self.items = {it.id: it for it in sorted(items, key=lambda it: it.id)[:MAX_ITEMS]}
        self.inputs()
        self.t.items = list(self.items.values())
        return self.t


def item_table(arts: RunArtifacts) -> ItemTable:
    """Every item with each candidate's answer (see the module docstring for the sources)."""
    return _Builder(arts).build()

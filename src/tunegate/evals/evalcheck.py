"""The criterion gate (`tunegate check-eval`): does the evaluation suite reliably tell good outputs from bad?

Why first: every later number — the prompt sprint, the probe, the monitor — is measured with this suite. If it
cannot separate a known-good output from a known-bad one, re-scores the same output differently, disagrees with
the people who define "good", or is too small to see the difference that matters, no later result can be trusted.

What runs: known-good outputs (gold answers; outputs people rated good) and known-bad ones (outputs people rated
bad; generated negatives) are scored by every scorer and by the suite (discrimination); stochastic scorers (LLM
judges) are re-run (consistency) on a smaller subset, since each output costs a model call per repeat; scorer
verdicts are compared with human ratings (agreement); the eval split's size gives the minimal detectable
difference (power). ``evalgate`` turns the numbers into checks and the gate.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tunegate.artifact_models import EvalCheckArtifact
from tunegate.artifacts import ARTIFACT_SCHEMA_VERSION, RunInfo, json_safe, now_iso, package_versions
from tunegate.data.examples import load_examples
from tunegate.errors import SpecError, TunegateError
from tunegate.evals import evalgate, fixes
from tunegate.evals.answer_method import resolve_answer_method
from tunegate.evals.consistency import consistency
from tunegate.evals.discrimination import SUITE, accepts_broken, discrimination_table, suite_values
from tunegate.evals.human_agreement import consensus, human_ceiling, load_rated_outputs, load_ratings, scorer_vs_humans
from tunegate.evals.primary import primary_scorer
from tunegate.evals.negatives import (Candidate, annotation_confusions, build_candidates, near_miss_table,
                                      requested_types, sample_items, split_types)
from tunegate.evals.scorers import Scorer, ScorerContext, build_scorers
from tunegate.evals.stats import minimal_detectable_difference, required_n_for_difference
from tunegate.models.usage import UsageTracker
from tunegate.progress import Progress
from tunegate.spec import Spec

def _scorer_labels(scorers: list[Scorer]) -> list[str]:
    names = [s.name for s in scorers]
    return [n if names.count(n) == 1 else f"{n}#{i}" for i, n in enumerate(names)]


def _near_miss(spec: Spec, dataset: Any) -> dict[str, str]:
    if spec.task.kind != "classification":
        return {}
    conf = None
    ann = spec.data.annotations if spec.data else None
    if ann:
        from tunegate.data.annotations import load_annotations

        anns = load_annotations(spec.resolve(ann.path), ann.fields, labels=spec.task.label_names,
                                item_ids=set(dataset.by_id()))
        conf = annotation_confusions(anns, {e.id: e.label for e in dataset.examples})
    return near_miss_table(spec, conf)


def _human_candidates(spec: Spec, dataset: Any) -> tuple[list[Candidate], dict | None, list[str]]:
    """Rated outputs as candidates (good/bad by the raters' majority; ties left out of discrimination)."""
    cfg = spec.check_eval
    if not cfg.human_ratings and not cfg.rated_outputs:
        return [], None, []
    if not (cfg.human_ratings and cfg.rated_outputs):
        raise SpecError("human ratings need both check_eval.human_ratings and check_eval.rated_outputs",
                        file=spec.source, field="check_eval.human_ratings" if not cfg.human_ratings
                        else "check_eval.rated_outputs")
    by_id = dataset.by_id()
    rated = load_rated_outputs(spec.resolve(cfg.rated_outputs), set(by_id))
    ratings = load_ratings(spec.resolve(cfg.human_ratings), cfg.ratings_fields, {r.id for r in rated},
                           cfg.human_good_at)
    cons = consensus(ratings)
    # a tie among the raters is neither known-good nor known-bad: scored (for agreement), left out of discrimination
    cands = [Candidate(f"rated:{r.id}", by_id[r.item_id], r.output, bool(cons.get(r.id)),
                       "human_tie" if cons.get(r.id) is None else ("human_good" if cons[r.id] else "human_bad"),
                       r.item_id) for r in rated if r.id in ratings]
    return cands, ratings, [r.id for r in rated if r.id in ratings]


def _power(spec: Spec, n: int) -> dict[str, Any]:
    """Minimal detectable difference at the split's size, and the size needed for the gap that matters.

    The comparison that matters is two systems ``gap`` apart near the target (p2 = target, p1 = target - gap).
    Their discordance (share of items where exactly one is right) is taken as p1(1-p2) + p2(1-p1), its value
    under independent errors: conservative, since systems usually fail on the same hard items."""
    cfg = spec.check_eval
    gap = cfg.gap_that_matters
    if cfg.baseline_accuracy is not None:
        p1, source = cfg.baseline_accuracy, "check_eval.baseline_accuracy"
    elif spec.eval.target is not None and 0 < spec.eval.target - gap < 1:
        p1, source = spec.eval.target - gap, "eval.target - gap_that_matters"
    else:
        p1, source = 0.5 - gap / 2, "0.5 ± gap/2 (worst case)"
    p2 = min(p1 + gap, 1.0)
    psi = p1 * (1 - p2) + p2 * (1 - p1)
    mdd = minimal_detectable_difference(n, discordance=psi)
    try:
        need = required_n_for_difference(gap, discordance=psi)
    except ValueError:
        need = None
    at_target = None
    if source.startswith("0.5") and 0 < 0.9 - gap < 1:  # what setting a typical target would change (for the fix)
        q1, q2 = 0.9 - gap, 0.9
        at_target = required_n_for_difference(gap, discordance=q1 * (1 - q2) + q2 * (1 - q1))
    return {"n": n, "split": cfg.split, "baseline": round(p1, 4), "baseline_source": source,
            "discordance": round(psi, 4), "design": "paired (McNemar), alpha 0.05, power 0.8, discordance "
            "p1(1-p2) + p2(1-p1) for accuracies p1 = baseline, p2 = baseline + gap",
            "minimal_detectable_difference": round(mdd, 4) if math.isfinite(mdd) else None,
            "gap_that_matters": gap, "required_n": need,
            "if_target": {"target": 0.9, "required_n": at_target} if at_target else None,
            "note": None if spec.task.kind == "classification" or spec.eval.metric == "accuracy" else
            f"computed for a proportion; {spec.eval.metric} is treated as one"}


def _attach_fixes(checks: list[dict], spec: Spec, method: str, info: list[dict], per_scorer: dict, primary: str,
                  cons: dict, human: dict | None, judged: str | None, ceiling: dict | None, power: dict) -> None:
    """Give every failing or unmeasured check a ``fix``: the one change that addresses it (evals.fixes)."""
    cfg, kind = spec.check_eval, spec.task.kind
    for c in checks:
        if c["status"] == "pass" or (c["status"] == "unknown" and not c.get("required", True)):
            continue
        name = c["name"]
        if name in ("discrimination", "scorer_discrimination"):
            weak = [k for k, t in per_scorer.items() if t["auc"] is not None and t["auc"] < cfg.min_auc]
            c["fix"] = fixes.discrimination_fix(weak or [primary], info, kind)
        elif name == "known_bad_rejected":
            over = [t for t, v in per_scorer[primary]["by_type"].items()
                    if t not in ("gold", "human_good") and (v["rate"] or 0) > cfg.max_accept_rate]
            c["fix"] = " | ".join(fixes.known_bad_fixes({primary: over}, info, kind, method)) or None
        elif name == "consistency":
            bad = [k for k, v in cons.items() if v["flip_rate"] is None or v["flip_rate"] > cfg.max_flip_rate
                   or (v["retest_alpha"] is not None and v["retest_alpha"] < cfg.min_retest_alpha)]
            c["fix"] = fixes.consistency_fix(bad, info)
        elif name == "human_agreement":
            hh = (ceiling or {}).get("kappa")
            c["fix"] = fixes.human_fix(c["status"], judged, info, hh is not None and hh < cfg.min_judge_kappa, kind)
        elif name == "power":
            c["fix"] = fixes.power_fix(power)


def check_eval_stage(spec: Spec, out_dir: str | Path | None, *, against: str | Path | None = None,
                     backend: Any = None, cache: Any = None, progress: Progress | None = None
                     ) -> dict[str, Any]:
    """Run the criterion gate; writes ``out_dir/evalcheck.json`` (when given) and returns its content.

    ``backend`` (optional) answers every model-backed scorer — the judges, never a subject model, which the gate
    does not call (tests, or a shared server); ``cache`` a shared ResponseCache; ``progress`` receives notes and
    the count of the judge's scored outputs as ``("judge calls", done, total)`` (for a progress bar).
    """
    note = progress or (lambda _m: None)
    cfg = spec.check_eval
    boot = spec.eval.bootstrap
    run = RunInfo(seed=spec.seed, config_hash=spec.config_hash(),
                  spec_path=str(spec.source) if spec.source else None, packages=package_versions())
    dataset = load_examples(spec)
    pool = dataset.split(cfg.split)
    if len(pool) < 2:
        raise TunegateError(f"check_eval.split '{cfg.split}' has {len(pool)} items; the gate needs at least 2")
    items = sample_items(pool, cfg.items, spec.seed)
    judge_ids = {e.id for e in items[: cfg.judge_items]}
    near = _near_miss(spec, dataset)
    method, method_why = resolve_answer_method(spec)
    wanted = requested_types(list(cfg.negatives), spec.task.kind, "negatives" in cfg.model_fields_set)
    types, na_why = split_types(wanted, spec.task.kind, method)
    not_applicable = list(na_why)
    cands, skipped = build_candidates(spec, items, types, seed=spec.seed, near_miss=near)
    human_cands, ratings, rated_ids = _human_candidates(spec, dataset)
    cands += human_cands
    note(f"criterion gate: {len(items)} items, {len(cands)} outputs ({len(human_cands)} rated by people)")

    usage = UsageTracker()
    own_cache = cache is None
    if cache is None:
        from tunegate.models.cache import ResponseCache

        cache = ResponseCache()
    ctx = ScorerContext(spec, None, subject_model=spec.models.default, cache=cache, usage=usage,
                        backend_factory=(lambda _model: backend) if backend is not None else None)
    emb: dict[str, Any] = {}

    def embedder() -> Any:
        if "e" not in emb:
            from tunegate.models.registry import create_embedder

            emb["e"] = create_embedder(spec.models.embedding, spec.models)
        return emb["e"]

    ctx.embedder = embedder
    scorers: list[Scorer] = []
    diff_result: dict[str, Any] | None = None
    try:
        scorers = build_scorers(spec, ctx)
        labels = _scorer_labels(scorers)
        accept_at = {k: (s.accept_at if s.accept_at is not None else cfg.accept_threshold)
                     for k, s in zip(labels, scorers)}
        if progress is not None:
            n_judged = sum(
                len([c for c in cands if c.cluster in judge_ids or c.source.startswith("human")])
                * (cfg.repeats or getattr(s, "repeats", 3)) for s in scorers if s.stochastic)
            done = [0]

            def tick(n: int) -> None:
                done[0] += n
                progress("judge calls", done[0], n_judged)

            ctx.on_scored = tick
        sets: dict[str, list[Candidate]] = {}
        values: dict[str, dict[str, float | None]] = {}
        reps: dict[str, list[dict[str, float | None]]] = {}
        for k, s in zip(labels, scorers):
            mine = [c for c in cands if not s.stochastic or c.cluster in judge_ids or c.source.startswith("human")]
            sets[k] = mine
            r = (cfg.repeats or getattr(s, "repeats", 3)) if s.stochastic else 1
            reps[k] = []
            for epoch in range(max(r, 1)):
                note(f"scoring {len(mine)} outputs with {k}" + (f" (repeat {epoch + 1}/{r})" if r > 1 else ""))
                scored = s.score_many([c.output for c in mine], [c.example for c in mine], epoch=epoch)
                reps[k].append({c.cid: sc.value for c, sc in zip(mine, scored)})
            values[k] = reps[k][0]
        if against is not None:  # before the cache closes: a judge in either criterion shares it
            from tunegate.evals.criterion_diff import diff_criteria, load_against

            note(f"comparing the criterion with {against}")
            old = load_against(spec, against)
            ctxs = (ScorerContext(old, embedder, subject_model=spec.models.default, cache=cache, usage=usage,
                                  backend_factory=ctx.backend_factory),
                    ScorerContext(spec, embedder, subject_model=spec.models.default, cache=cache, usage=usage,
                                  backend_factory=ctx.backend_factory))
            diff_result = diff_criteria(old, spec, outputs=[(c.cluster, c.output) for c in cands
                                                            if not c.source.startswith("human")],
                                        new_examples=dataset.examples, scorer_ctx=ctxs)
    finally:
        for s in scorers:
            if hasattr(s, "close"):
                s.close()
        if own_cache:
            cache.close()

    # discrimination: each scorer on its own outputs; the suite on the outputs every scorer scored
    known = {k: [c for c in sets[k] if c.source != "human_tie"] for k in labels}
    per_scorer = {k: discrimination_table(known[k], [values[k][c.cid] for c in known[k]], accept_at[k], boot=boot)
                  for k in labels}
    common = [c for c in cands if c.source != "human_tie" and all(c.cid in values[k] for k in labels)]
    sv, sa = suite_values({k: [values[k][c.cid] for c in common] for k in labels}, accept_at)
    suite = discrimination_table(common, sv, 0.5, accepted=sa, boot=boot)
    suite["rule"] = "score = mean of the scorers' values (unscored = 0); accepted = every scorer accepts"
    broken = {k: accepts_broken(t, cfg.max_accept_rate) for k, t in per_scorer.items()}
    accepted_bad = [{"id": c.cid, "source": c.source, "output": c.output[:200]} for c, a in zip(common, sa)
                    if a and not c.good][:25]

    # consistency of stochastic scorers
    cons = {}
    for k, s in zip(labels, scorers):
        if s.stochastic and len(reps[k]) >= 2:
            ids = [c.cid for c in sets[k]]
            cons[k] = consistency(ids, [[rep[i] for i in ids] for rep in reps[k]], accept_at[k],
                                  level="nominal" if s.binary else "ordinal", n_resamples=min(boot.n_resamples, 1000),
                                  confidence=boot.confidence, seed=boot.seed)

    # agreement with people: every scorer's verdict on the rated outputs; the judge (or the suite) is the headline
    human: dict[str, Any] | None = None
    ceiling = None
    judged = None
    if ratings:
        ceiling = human_ceiling(rated_ids, ratings, boot)
        human = {}
        for k in labels:
            # unscored counts as not accepted, as in discrimination: the scorer did not vouch for the output
            vals = [values[k].get(f"rated:{i}") for i in rated_ids]
            human[k] = scorer_vs_humans(rated_ids, [v is not None and v >= accept_at[k] - 1e-12 for v in vals],
                                        ratings, boot)
            human[k]["n_unscored"] = sum(v is None for v in vals)
        judged = next((k for k, s in zip(labels, scorers) if s.stochastic), labels[0] if len(labels) == 1 else None)
        if judged is None:
            suite_acc = [all((values[k].get(f"rated:{i}") or 0.0) >= accept_at[k] - 1e-12 for k in labels)
                         for i in rated_ids]
            human[SUITE] = scorer_vs_humans(rated_ids, suite_acc, ratings, boot)
            judged = SUITE
    has_judge = any(s.stochastic for s in scorers)

    power = _power(spec, len(pool))
    primary = primary_scorer(spec.eval.metric, labels)  # the one rule every stage uses
    checks = [*evalgate.discrimination_checks(cfg, suite, per_scorer, primary),
              evalgate.negatives_check(cfg, suite, broken),
              evalgate.consistency_check(cfg, cons),
              evalgate.human_check(cfg, human.get(judged) if human else None, ceiling, judged, has_judge),
              evalgate.power_check(cfg, power)]
    info = [{"name": k, "type": s.name, "key": s.key, "options": s.options} for k, s in zip(labels, scorers)]
    _attach_fixes(checks, spec, method, info, per_scorer, primary, cons, human, judged, ceiling, power)
    gate, reasons = evalgate.gate(checks)
    for why in dict.fromkeys(na_why.values()):
        reasons.append(f"not tested, since {why}: " + ", ".join(t for t, w in na_why.items() if w == why))
    next_actions = list(dict.fromkeys(c["fix"] for c in checks if c.get("fix") and c.get("required", True)
                                      and c["status"] in ("fail", "unknown")))

    warnings = [w for s in scorers for w in getattr(s, "warnings", [])]
    warnings += [f"scorer {k} accepts broken output ({', '.join(v)})" for k, v in broken.items() if v]
    warnings += [f"scorer {k} alone does not separate good from bad outputs (AUC {t['auc']} < {cfg.min_auc})"
                 for k, t in per_scorer.items() if k != primary and t["auc"] is not None and t["auc"] < cfg.min_auc]
    if skipped:
        warnings.append("negatives not generated where they could not be made bad: " +
                        ", ".join(f"{t} × {n}" for t, n in sorted(skipped.items())))
    diff = None
    if diff_result is not None:
        diff = diff_result
        if diff["changed"]:
            g, sh = diff["gold"], diff["metric_shift"]
            warnings.append(f"the criterion changed since {against}: {g['n_changed']} expected answers changed, "
                            f"{g['n_added']} added, {g['n_removed']} removed, {len(diff['scorers'])} scorer "
                            f"settings changed; the metric on the same outputs moved {sh.get('shift')}")

    jh = human[judged] if human and judged else {}
    worst = max((c for c in cons.values() if c["flip_rate"] is not None), key=lambda c: c["flip_rate"], default={})
    run.finished = now_iso()
    art: dict[str, Any] = {
        "schema_version": ARTIFACT_SCHEMA_VERSION, "artifact": "evalcheck", "run": run.model_dump(mode="json"),
        "task": spec.task.name,
        "gate": gate, "reasons": reasons, "next_actions": next_actions, "checks": checks,
        "auc": suite["auc"], "auc_ci_low": suite["auc_ci_low"], "auc_ci_high": suite["auc_ci_high"],
        "judge_human_kappa": jh.get("kappa"), "judge_human_kappa_ci_low": jh.get("kappa_ci_low"),
        "judge_human_kappa_ci_high": jh.get("kappa_ci_high"), "judge_human_kappa_of": judged,
        "human_human_kappa": (ceiling or {}).get("kappa"), "human_human_kappa_ci_low": (ceiling or {}).get(
            "kappa_ci_low"), "human_human_kappa_ci_high": (ceiling or {}).get("kappa_ci_high"),
        "flip_rate": worst.get("flip_rate"), "flip_rate_ci_low": worst.get("flip_rate_ci_low"),
        "flip_rate_ci_high": worst.get("flip_rate_ci_high"),
        "minimal_detectable_difference": power["minimal_detectable_difference"],
        "primary_scorer": primary,
        "scorers": [{"name": k, "type": s.name, "stochastic": s.stochastic, "accept_at": accept_at[k],
                     "model": getattr(s, "model", None)} for k, s in zip(labels, scorers)],
        "discrimination": {"suite": suite, "per_scorer": per_scorer, "accepts_broken": broken,
                           "accepted_bad_examples": accepted_bad},
        "answer_method": {"method": method, "why": method_why},
        "negatives": {"types": types, "not_applicable": not_applicable, "not_applicable_why": na_why,
                      "items": len(items), "judge_items": len(judge_ids), "skipped": skipped, "near_miss": near or None},
        "consistency": cons, "human_agreement": {"ceiling": ceiling, "per_scorer": human} if ratings else None,
        "power": power, "criterion_diff": diff, "warnings": warnings, "usage": usage.to_dict(),
        "thresholds": cfg.model_dump(mode="json"),
    }
    where = Path(out_dir) / EvalCheckArtifact.FILENAME if out_dir else EvalCheckArtifact.FILENAME
    model = EvalCheckArtifact.from_dict(json_safe(art), source=where)  # a writer drifting from the model fails here
    if out_dir:
        model.save(out_dir)
    return model.to_dict()

"""The verdict card, the criterion gate, and the prompting gap (sprint, evaluations, fine-tune probe).

Each function takes the collected artifacts and returns document blocks (``doc.py``); none of them formats HTML
or escapes text. A section whose artifact is absent says so and names the command that would produce it: the
report never fills a gap with a number it did not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tunegate.report.charts as charts
from tunegate.artifact_models import CheckResult, SprintArtifact, VerdictArtifact
from tunegate.artifact_models.cost import CostInput
from tunegate.artifact_models.probe import LearningCurve
from tunegate.artifact_models.sprint import SprintCandidate
from tunegate.artifacts import EvalArtifact
from tunegate.report.collect import STAGES, RunArtifacts, given
from tunegate.report.doc import (
    Badge,
    Box,
    Bullets,
    Chart,
    Code,
    Heading,
    Para,
    Stats,
    Strong,
    Table,
    ci_text,
    fmt_ci,
    fmt_count,
    fmt_num,
    fmt_pct,
    humanize,
    money_formatter,
    num,
)
from tunegate.report.evidence import fmt_value, fold_evidence

VERDICTS = {  # name -> (plain-language gloss, colour class)
    "FIX_EVAL_FIRST": ("Fix the evaluation first", "bad"),
    "SHIP_PROMPT": ("Ship the prompt", "good"),
    "IMPROVE_DATA_FIRST": ("Improve the data first", "warn"),
    "KEEP_PROMPTING": ("Keep prompting", "info"),
    "FINE_TUNE": ("Fine-tune", "purple"),
}
CONDITIONS = {  # key -> (title, the framework's question, section anchor)
    "criterion": ("1 · Success criterion", "Does the eval suite consistently tell good outputs from bad?",
                  "criterion"),
    "data": ("2 · Labeled data", "Is there enough high-quality, adjudicated, well-covered labeled data?", "data"),
    "prompting_gap": ("3 · Prompting gap", "Is there a gap to the target that a proper prompt sprint cannot close?",
                      "prompting"),
    "economics": ("Economics", "Is fine-tuning worth its total cost over the horizon, evaluation tax included?",
                  "economics"),
}
EXTRA_CONDITIONS = {"finetune_probe": "Fine-tune probe"}  # reported by the verdict beyond the framework's three
STATUS = {"held": ("✓ held", "good"), "not_held": ("✗ not held", "bad"), "unknown": ("? unknown", "neutral")}
SOURCE = {"measured": ("measured", "outline"), "declared": ("declared", "declared"),
          "missing": ("no evidence", "faint")}
GATE = {"pass": ("✓ pass", "good"), "fail": ("✗ fail", "bad"), "warn": ("! warn", "warn"),
        "unknown": ("? unknown", "neutral"), "info": ("info", "info"),
        "not_applicable": ("n/a", "neutral")}
MAX_EVIDENCE = 8


def status_badge(status: Any) -> Badge:
    text, kind = STATUS.get(str(status), (str(status or "unknown").replace("_", " "), "neutral"))
    return Badge(text, kind)


def source_badge(source: Any) -> Badge:
    text, kind = SOURCE.get(str(source), (str(source or "missing"), "faint"))
    return Badge(text, kind)


def gate_badge(gate: Any) -> Badge:
    text, kind = GATE.get(str(gate).lower(), (str(gate), "neutral"))
    return Badge(text, kind)


def evidence_formatter(arts: RunArtifacts):
    """Per-key formatting of verdict evidence, which carries no units: probabilities and rates as percentages,
    volumes compactly, money in cost.json's currency (only when cost.json says which currency it is)."""
    money = money_formatter(arts.cost.currency) if arts.cost is not None else None

    def pct(x: Any) -> str:
        v = num(x)
        return fmt_pct(v) if v is not None and 0 <= v <= 1 else fmt_num(x)

    def fmt_for(key: str):
        k = key.lower()
        if k.startswith("p_") or k.endswith(("_rate", "_share")) or "probability" in k:
            return pct
        if "volume" in k:
            return fmt_count
        if money and any(w in k for w in ("net_value", "tco", "cost", "price")):
            return money
        return None

    return fmt_for


def missing(what: str, command: str) -> Para:
    return Para(["Not measured yet: ", what, " Run ", Code(command), " to measure it."], kind="missing")


def absent(arts: RunArtifacts, name: str, what: str, command: str) -> Para:
    """``missing``, or, when the stage's file is there but its model refused it, why (file and key)."""
    reason = arts.failed.get(name)
    if reason is None:
        return missing(what, command)
    return Para([f"Not measured: {name}.json could not be read — {reason}. Re-run ", Code(command),
                 " to rewrite it."], kind="missing")


def condition_line(arts: RunArtifacts, key: str) -> list:
    """The verdict's judgement of one condition, shown at the top of that condition's section."""
    cond = arts.verdict.conditions.get(key) if arts.verdict is not None else None
    if cond is None:
        return []
    parts: list = ["Verdict on this condition: ", status_badge(cond.status), " ", source_badge(cond.source)]
    if cond.summary:
        parts += [" — ", cond.summary]
    out: list = [Para(parts, kind="condition-line")]
    if cond.source == "declared" and cond.evidence:
        ev = fold_evidence(cond.evidence, fmt_for=evidence_formatter(arts))
        out.append(Para(["Declared evidence (stated in the spec, not measured by tunegate): ",
                         "; ".join(f"{k} {v}" for k, v in ev)], kind="note"))
    return out


# ---------------------------------------------------------------- verdict card
def verdict_card(arts: RunArtifacts) -> list:
    v = arts.verdict
    if v is None:
        rows = [[f"{name}.json", Badge("✓ found", "good") if name in arts.data else Badge("missing", "faint"),
                 Code(cmd + " CONFIG" if name != "verdict" else cmd + " RUN_DIR")]
                for name, cmd in STAGES.items()]
        lead: list = [("This run directory has no verdict.json, so nothing below is interpreted: the evidence found "
                       "so far is shown as measured. Run "), Code("tunegate decide RUN_DIR"), " (or ",
                      Code("tunegate run"), ") to get one of the five verdicts."]
        if "verdict" in arts.failed:
            lead = [f"verdict.json could not be read — {arts.failed['verdict']}. Nothing below is interpreted: the "
                    "evidence found is shown as measured. Re-run ", Code("tunegate decide RUN_DIR"), "."]
        return [Box("verdict-card v-none", [
            Para(["Verdict"], kind="eyebrow"),
            Heading(2, "No verdict yet", anchor="verdict"),
            Para(lead, kind="lead"),
            Table(["stage artifact", "status", "command"], rows),
        ])]
    name = v.verdict
    gloss, kind = VERDICTS.get(name, ("not one of the five verdicts", "neutral"))
    conf = v.confidence or "unknown"
    head: list = [Badge(f"confidence: {conf}", {"high": "good", "medium": "info", "low": "warn"}.get(conf, "neutral"))]
    if v.rule:
        head += ["  ", "Rule: ", v.rule]
    conds = v.conditions
    fmt_for = evidence_formatter(arts)
    shown_keys = [*CONDITIONS, *[k for k in EXTRA_CONDITIONS if k in conds],
                  *[k for k in conds if k not in CONDITIONS and k not in EXTRA_CONDITIONS]]
    shown_keys.remove("economics")  # the framework's conditions first, the money last
    shown_keys.append("economics")
    cards = []
    for key in shown_keys:
        title, question, _ = CONDITIONS.get(key, (EXTRA_CONDITIONS.get(key, humanize(key).capitalize()), "", ""))
        c = conds.get(key)
        ev = fold_evidence(c.evidence if c is not None else None, fmt_for=fmt_for)
        body: list = [Heading(3, title),
                      Para([status_badge(c.status if c is not None else "unknown"), " ",
                            source_badge(c.source if c is not None else None)], kind="badges"),
                      Para([(c.summary if c is not None else "") or question or ""], kind="cond-summary")]
        if ev:
            shown = [[k, val] for k, val in ev[:MAX_EVIDENCE]]
            if len(ev) > MAX_EVIDENCE:
                shown.append([f"… {len(ev) - MAX_EVIDENCE} more", "see the section below"])
            body.append(Table(["evidence", "value"], shown, numeric=(1,)))
        elif c is None:
            body.append(Para(["The verdict does not report this condition."], kind="note"))
        wide = " wide" if key == "economics" and len(shown_keys) % 2 == 1 else ""  # alone on its row: span it
        colour = STATUS.get(c.status if c is not None else "", ("", "neutral"))[1]
        cards.append(Box(f"condition c-{colour}{wide}", body))
    blocks: list = [
        Para(["Verdict"], kind="eyebrow"),
        Heading(2, f"{name} — {gloss}", anchor="verdict"),
        Para(head, kind="badges"),
    ]
    lead = _verdict_lead(v, name, conf)
    if lead:
        blocks.append(Para([lead], kind="lead"))
    blocks.append(Box("conditions", cards))
    blocks.append(Para([("measured = computed by tunegate from your data in this run · declared = stated in the "
                         "spec and not verified here, which lowers the verdict's confidence")], kind="note"))
    actions = [a for a in v.next_actions if a]
    if actions:
        blocks += [Heading(3, "Next actions"), Bullets([[a] for a in actions], ordered=True)]
    return [Box(f"verdict-card v-{kind}", blocks)]


def _verdict_lead(v: VerdictArtifact, name: str, conf: str) -> str:
    """The verdict's explanation, once: an explanation key if the verdict has one, else its summary unless that
    only repeats the heading, the confidence badge and the rule already shown above it."""
    why = v.plain.why if v.plain is not None else None  # tunegate assess's words
    # reason / why / plain_summary: keys hand-written verdicts use, kept as extras
    for val in (why, v.explanation, *(given(v, k) for k in ("reason", "why", "plain_summary"))):
        if isinstance(val, list):
            val = " ".join(str(x) for x in val if x)
        if isinstance(val, str) and val.strip():
            return val.strip()
    summary, rule = v.summary.strip(), v.rule.strip()
    generated = {f"{name} ({conf} confidence): rule {rule}", f"{name} ({conf} confidence)", name, rule}
    return "" if summary in generated else summary


# ---------------------------------------------------------------- criterion
# evalcheck.json keys that have their own block (or none): everything else the file wrote is a measure row
_NOT_MEASURES = ("gate", "reasons", "checks", "run", "schema_version", "artifact", "task", "warnings", "scorers",
                 "discrimination", "negatives", "consistency", "human_agreement", "power", "criterion_diff", "usage",
                 "thresholds")


def criterion_section(arts: RunArtifacts) -> list:
    title, question, anchor = CONDITIONS["criterion"]
    out: list = [Heading(2, f"{title} — the evaluation suite", anchor=anchor), Para([question], kind="note"),
                 *condition_line(arts, "criterion")]
    ec = arts.evalcheck
    if ec is None:
        out.append(absent(arts, "evalcheck", "no criterion-gate result (evalcheck.json) in this run.",
                          "tunegate check-eval CONFIG"))
        return out
    out.append(Para(["Criterion gate: ", gate_badge(ec.gate)]))
    reasons = [r for r in ec.reasons if r]
    if reasons:
        out.append(Bullets([[r] for r in reasons]))
    if ec.checks:
        out.append(checks_table(ec.checks))
    warnings = [w for w in ec.warnings if w]
    if warnings:
        out.append(Para(["Warnings:"], kind="note"))
        out.append(Bullets([[w] for w in warnings]))
    # the measures as the file wrote them (typed fields it set, then its extra keys), never a model default
    written = ec.model_dump(mode="json", exclude_unset=True)
    facts = fold_evidence(written, skip=_NOT_MEASURES, fmt_for=evidence_formatter(arts))
    if facts:
        out.append(Table(["measure", "value"], [[k, val] for k, val in facts], numeric=(1,), compact=True))
    return out


def checks_table(checks: list[CheckResult]) -> Table:
    rows = []
    for c in checks:
        flagged = given(c, "n_items")
        rows.append([humanize(c.name), gate_badge(c.status), fmt_value(c.value),
                     fmt_value(c.threshold) if c.threshold is not None else "–",
                     "–" if flagged is None else fmt_num(flagged), c.detail])
    return Table(["check", "status", "value", "threshold", "items flagged", "detail"], rows, numeric=(2, 3, 4))


# ---------------------------------------------------------------- prompting gap
def _eval_label(path: Path, e: EvalArtifact, arts: RunArtifacts) -> str:
    prompt = Path(e.prompt_source).name or "prompt"
    return " · ".join(str(x) for x in (e.model or arts.rel(path.parent), e.method, prompt) if x)


def _eval_cost_per_1k(e: EvalArtifact) -> float | None:
    """Measured spend per 1,000 subject calls (cache savings added back: the price of a cold request)."""
    u = e.usage_counts("subject")
    calls, cost = (num(u.calls), num(u.cost)) if u is not None else (None, None)
    if not calls or cost is None:
        return None
    return (cost + (num(u.cost_saved) or 0.0)) / calls * 1000


def prompting_section(arts: RunArtifacts) -> list:
    title, question, anchor = CONDITIONS["prompting_gap"]
    out: list = [Heading(2, f"{title} — what prompting reaches", anchor=anchor), Para([question], kind="note"),
                 *condition_line(arts, "prompting_gap")]
    money = money_formatter(arts.cost.currency if arts.cost is not None else "$")
    sprint = arts.sprint
    if sprint is not None:
        out += _sprint_blocks(sprint, money)
    else:
        out.append(absent(arts, "sprint", "no prompt sprint (sprint.json) in this run"
                          + (", so the individual evaluations found are shown instead." if arts.evals else "."),
                          "tunegate sprint CONFIG"))
    if arts.evals:
        out += _eval_blocks(arts, money, heading=sprint is not None)
    out += probe_blocks(arts)
    return out


def _by_value(c: SprintCandidate) -> float:
    v = num(c.value)
    return -(v if v is not None else -1e300)


def _sprint_blocks(sprint: SprintArtifact, money) -> list:
    cands = list(sprint.candidates)
    target, best = num(sprint.target), sprint.best.candidate
    metric = sprint.metric or "metric"
    out: list = [Heading(3, "Prompt sprint leaderboard")]
    if not cands:
        return out + [Para(["sprint.json lists no candidates."], kind="missing")]
    cands = sorted(cands, key=_by_value)
    baseline = _baseline(sprint, cands)
    if baseline is not None and baseline not in cands:  # not a finalist: tested on test all the same
        cands.append(baseline)
    rows_chart, rows = [], []
    for i, c in enumerate(cands, 1):
        is_best = c.name == best
        rows_chart.append({"label": c.name, "value": num(c.value), "low": num(c.ci_low), "high": num(c.ci_high),
                           "highlight": is_best})
        per_1k = c.cost_per_1000
        tags = ([" ", Badge("best", "info")] if is_best else []) + (
            [" ", Badge("zero-shot baseline", "outline")] if c is baseline else [])
        rows.append([fmt_num(i), [c.name] + tags, fmt_ci(c.value, c.ci_low, c.ci_high), fmt_num(c.n),
                     money(per_1k) if per_1k is not None else "–"])
    svg = charts.interval_chart(rows_chart, x_label=metric, target=target, title=f"sprint candidates: {metric}")
    if svg:
        out.append(Chart(svg, f"Sprint candidates: {metric} with 95% confidence intervals"
                              + (f"; dashed line: target {fmt_num(target)}" if target is not None else "")))
    out.append(Table(["#", "candidate", f"{metric} (95% CI)", "n", "cost per 1,000 requests"], rows,
                     numeric=(0, 2, 3, 4)))
    top = next((c for c in cands if c.name == best), cands[0])
    line: list = [Strong(f"Best prompt: {top.name}"), " reaches ", fmt_ci(top.value, top.ci_low, top.ci_high)]
    if target is not None:
        line += [" against a target of ", fmt_num(target)]
        lo, hi = num(top.ci_low), num(top.ci_high)
        if lo is not None and lo >= target:
            line.append(": the whole interval is at or above the target.")
        elif hi is not None and hi < target:
            line.append(": the whole interval is below the target.")
        elif lo is not None and hi is not None:
            line.append(": the interval straddles the target.")
    out.append(Para(line))
    if baseline is not None and baseline is not top:
        out.append(Para(_baseline_line(sprint, top, baseline)))
    return out


def _baseline(sprint: SprintArtifact, cands: list[SprintCandidate]) -> SprintCandidate | None:
    """The sprint's zero-shot baseline: a finalist flagged ``baseline``, the finalist sprint.json's ``baseline``
    block names, or that block itself when it holds the baseline's own test value."""
    flagged = next((c for c in cands if c.baseline is True), None)
    if flagged is not None:
        return flagged
    b = sprint.baseline
    if not b.name:
        return None
    same = next((c for c in cands if c.name == b.name), None)
    return same if same is not None else (b if b.measured else None)


def _baseline_line(sprint: SprintArtifact, top: SprintCandidate, base: SprintCandidate) -> list:
    line: list = [Strong(f"Zero-shot baseline: {base.name}"), " reaches ",
                  fmt_ci(base.value, base.ci_low, base.ci_high)]
    cmp_ = sprint.comparison("best_vs_baseline")
    d = num(cmp_.diff) if cmp_ is not None else None
    if cmp_ is not None and d is not None:
        line += [f"; the best prompt is {'+' if d >= 0 else '−'}{fmt_num(abs(d), 3)} above it on the same "
                 f"{fmt_num(cmp_.n)} test items (paired ", ci_text(cmp_.ci_low, cmp_.ci_high) or "no interval", ")"]
        if cmp_.p_holm is not None:
            line.append(f", Holm-adjusted p = {fmt_num(cmp_.p_holm)}")
        line.append(".")
    else:
        dv, bv = num(top.value), num(base.value)
        if dv is not None and bv is not None:
            line.append(f"; the best prompt is {dv - bv:+.3f} above it.")
    return line


def _eval_blocks(arts: RunArtifacts, money, heading: bool) -> list:
    out: list = [Heading(3, "Evaluation runs")] if heading else []
    evals = sorted(arts.evals, key=lambda pe: -(num(pe[1].value) if num(pe[1].value) is not None else -1e300))
    metrics = {e.metric or "metric" for _, e in evals}
    metric = metrics.pop() if len(metrics) == 1 else "metric"
    target = next((num(e.target) for _, e in evals if num(e.target) is not None), None)
    rows_chart, rows = [], []
    for path, e in evals:
        label = _eval_label(path, e, arts)
        rows_chart.append({"label": label, "value": num(e.value), "low": num(e.ci_low), "high": num(e.ci_high)})
        per_1k = _eval_cost_per_1k(e)
        rows.append([label, e.split or "–", fmt_ci(e.value, e.ci_low, e.ci_high, level=e.confidence),
                     fmt_num(e.n) + (f" ({fmt_num(e.n_unscored)} unscored)" if e.n_unscored else ""),
                     money(per_1k) if per_1k is not None else "–", arts.rel(path)])
    if len(rows_chart) > 1 or target is not None:
        svg = charts.interval_chart(rows_chart[:30], x_label=metric, target=target, title=f"evaluations: {metric}")
        if svg:
            out.append(Chart(svg, f"Evaluation runs: {metric} with confidence intervals"))
    out.append(Table(["model · method · prompt", "split", f"{metric} (CI)", "n", "cost per 1,000 requests",
                      "artifact"], rows, numeric=(2, 3, 4)))
    if arts.n_evals_found > len(arts.evals):
        out.append(Para([f"{arts.n_evals_found} eval.json files found; the first {len(arts.evals)} are listed."],
                        kind="note"))
    best_path, best = evals[0]
    label = _eval_label(best_path, best, arts)
    groups_label = {"": best.per_label} if best.per_label else {}
    out += _breakdown(best, groups_label, "per_label", "recall per gold label", label, target)
    out += _breakdown(best, best.per_slice, "per_slice", "per slice", label, target)
    return out


def _breakdown(e: EvalArtifact, groups: dict, key: str, what: str, label: str, target: float | None) -> list:
    """Recall per gold label (one unnamed group) or the metric per slice (a group per slice column)."""
    rows = [{"label": f"{g}: {name}" if g else str(name), "value": num(m.value), "low": num(m.ci_low),
             "high": num(m.ci_high), "n": m.n} for g, entries in groups.items() for name, m in entries.items()]
    if not rows:
        return []
    svg = charts.interval_chart(rows[:40], x_label=(e.metric or "metric") if key == "per_slice" else "recall",
                                target=target, title=f"{label}: {what}")
    out: list = [Heading(4, f"Best evaluated prompt, {what}: {label}")]
    if svg:
        out.append(Chart(svg, f"{label}: {what}, with 95% confidence intervals"))
    out.append(Table([("label" if key == "per_label" else "slice"), "value (95% CI)", "n"],
                     [[r["label"], fmt_ci(r["value"], r["low"], r["high"]), fmt_num(r["n"])] for r in rows],
                     numeric=(1, 2)))
    return out


# ---------------------------------------------------------------- fine-tune probe
def probe_blocks(arts: RunArtifacts) -> list:
    out: list = [Heading(3, "Fine-tune probe: does learning from the labels close the gap?"),
                 *condition_line(arts, "finetune_probe")]
    probe, sprint = arts.probe, arts.sprint
    if probe is None:
        return out + [absent(arts, "probe", "no fine-tune probe (probe.json) in this run.", "tunegate probe CONFIG")]
    target = num(probe.target if probe.target is not None else (sprint.target if sprint is not None else None))
    rows = []
    for p in probe.probes:
        rows.append({"label": str(p.name if p.name is not None else "probe"), "value": num(p.value),
                     "low": num(p.ci_low), "high": num(p.ci_high), "n": p.n})
    best = sprint.best_candidate() if sprint is not None else None
    if best is not None:
        rows.append({"label": f"best prompt: {best.name}", "value": num(best.value), "low": num(best.ci_low),
                     "high": num(best.ci_high), "n": best.n, "highlight": True})
    if rows:
        metric = (probe.metric or next((p.metric for p in probe.probes if p.metric), None)
                  or (sprint.metric if sprint is not None else None) or "metric")
        svg = charts.interval_chart(rows, x_label=str(metric), target=target,
                                    title="fine-tune probes against the best prompt")
        if svg:
            out.append(Chart(svg, "Fine-tune probes (and the best sprint prompt, highlighted) with 95% CIs"))
        out.append(Table(["probe", "value (95% CI)", "n"],
                         [[r["label"], fmt_ci(r["value"], r["low"], r["high"]), fmt_num(r["n"])] for r in rows],
                         numeric=(1, 2)))
    labels_in = arts.cost.inputs.get("labeling.labels_needed") if arts.cost is not None else None
    out += _learning_curve(probe.learning_curve, target, labels_in)
    return out


def _learning_curve(lc: LearningCurve | None, target: float | None, cost_labels: CostInput | None = None) -> list:
    out: list = [Heading(4, "Learning curve")]
    if lc is None or not lc.points:
        return out + [Para(["No learning curve in probe.json."], kind="missing")]
    target_err = num(lc.target_error)
    target_note = ""
    if target_err is None and target is not None and 0 <= target <= 1:
        target_err, target_note = 1 - target, f" (1 − target {fmt_num(target)})"
    fit = lc.fit
    needed = num(lc.labels_needed)
    svg = charts.learning_curve_chart([p.model_dump() for p in lc.points], fit=fit.model_dump() if fit else None,
                                      target_error=target_err, labels_needed=needed)
    if svg:
        out.append(Chart(svg, "Learning curve: error against training-set size, seeds' spread and fitted curve"))
    used = num(cost_labels.mean) if cost_labels is not None else None
    if needed is not None:
        sub = "from the fitted curve; an extrapolation"
    elif used is not None:  # say which number the economics used instead, so two figures never disagree silently
        src = {"default": "its default", "spec": "the spec's value", "caller": "the probe"}.get(
            str(cost_labels.source if cost_labels is not None else None), "its input")
        sub = f"no trustworthy fit: the cost model used {fmt_num(round(used))} labels ({src}) instead"
    else:
        sub = ""
    stats: list = [("labels needed to reach the target", fmt_num(round(needed)) if needed is not None
                    else "not estimated from the curve", sub)]
    if fit is not None and all(num(x) is not None for x in (fit.a, fit.b, fit.c)):
        stats.append(("fitted curve", f"error(n) = {fmt_num(fit.a)} + {fmt_num(fit.b)}·n^(−{fmt_num(fit.c)})",
                      "weighted least squares"))
    else:
        stats.append(("fitted curve", "no trustworthy fit", "see the flags below"))
    if target_err is not None:
        stats.append(("target error", fmt_num(target_err), target_note.strip(" ()")))
    out.append(Stats(stats))
    flags = [f for f in lc.flags if f]
    if flags:
        out += [Para(["Curve flags:"], kind="note"), Bullets([[str(f)] for f in flags])]
    rows = []
    for p in lc.points:
        seeds = [s for s in (p.seeds or []) if num(s) is not None]
        rows.append([fmt_num(p.n), fmt_num(p.error),
                     f"{fmt_num(min(seeds))}–{fmt_num(max(seeds))} ({len(seeds)} seeds)" if seeds else "–"])
    out.append(Table(["training examples", "mean error", "seed range"], rows, numeric=(0, 1, 2)))
    return out

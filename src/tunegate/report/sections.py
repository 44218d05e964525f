"""The verdict card, the criterion gate, and the prompting gap (sprint, evaluations, fine-tune probe).

Each function takes the collected artifacts and returns document blocks (``doc.py``); none of them formats HTML
or escapes text. A section whose artifact is absent says so and names the command that would produce it: the
report never fills a gap with a number it did not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tunegate.report.charts as charts
from tunegate.report.collect import STAGES, RunArtifacts
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
    as_dict,
    as_list,
    ci_text,
    fmt_ci,
    fmt_count,
    fmt_num,
    fmt_pct,
    get,
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
    cost = arts.get("cost")
    money = money_formatter(get(cost, "currency", default="$")) if cost else None

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


def condition_line(arts: RunArtifacts, key: str) -> list:
    """The verdict's judgement of one condition, shown at the top of that condition's section."""
    cond = as_dict(get(arts.get("verdict"), "conditions", default={})).get(key)
    if not isinstance(cond, dict):
        return []
    parts: list = ["Verdict on this condition: ", status_badge(cond.get("status")), " ",
                   source_badge(cond.get("source"))]
    if cond.get("summary"):
        parts += [" — ", str(cond["summary"])]
    out: list = [Para(parts, kind="condition-line")]
    if cond.get("source") == "declared" and cond.get("evidence"):
        ev = fold_evidence(cond["evidence"], fmt_for=evidence_formatter(arts))
        out.append(Para(["Declared evidence (stated in the spec, not measured by tunegate): ",
                         "; ".join(f"{k} {v}" for k, v in ev)], kind="note"))
    return out


# ---------------------------------------------------------------- verdict card
def verdict_card(arts: RunArtifacts) -> list:
    v = arts.get("verdict")
    if v is None:
        rows = [[f"{name}.json", Badge("✓ found", "good") if name in arts.data else Badge("missing", "faint"),
                 Code(cmd + " CONFIG" if name != "verdict" else cmd + " RUN_DIR")]
                for name, cmd in STAGES.items()]
        return [Box("verdict-card v-none", [
            Para(["Verdict"], kind="eyebrow"),
            Heading(2, "No verdict yet", anchor="verdict"),
            Para([("This run directory has no verdict.json, so nothing below is interpreted: the evidence found "
                   "so far is shown as measured. Run "), Code("tunegate decide RUN_DIR"), " (or ", Code("tunegate run"),
                  ") to get one of the five verdicts."], kind="lead"),
            Table(["stage artifact", "status", "command"], rows),
        ])]
    name = str(v.get("verdict") or "UNKNOWN")
    gloss, kind = VERDICTS.get(name, ("not one of the five verdicts", "neutral"))
    conf = str(v.get("confidence") or "unknown")
    head: list = [Badge(f"confidence: {conf}", {"high": "good", "medium": "info", "low": "warn"}.get(conf, "neutral"))]
    if v.get("rule"):
        head += ["  ", "Rule: ", str(v["rule"])]
    conds = as_dict(v.get("conditions"))
    fmt_for = evidence_formatter(arts)
    shown_keys = [*CONDITIONS, *[k for k in EXTRA_CONDITIONS if k in conds],
                  *[k for k in conds if k not in CONDITIONS and k not in EXTRA_CONDITIONS]]
    shown_keys.remove("economics")  # the framework's conditions first, the money last
    shown_keys.append("economics")
    cards = []
    for key in shown_keys:
        title, question, _ = CONDITIONS.get(key, (EXTRA_CONDITIONS.get(key, humanize(key).capitalize()), "", ""))
        c = as_dict(conds.get(key))
        ev = fold_evidence(c.get("evidence"), fmt_for=fmt_for)
        body: list = [Heading(3, title),
                      Para([status_badge(c.get("status") or "unknown"), " ", source_badge(c.get("source"))],
                           kind="badges"),
                      Para([str(c.get("summary") or question or "")], kind="cond-summary")]
        if ev:
            shown = [[k, val] for k, val in ev[:MAX_EVIDENCE]]
            if len(ev) > MAX_EVIDENCE:
                shown.append([f"… {len(ev) - MAX_EVIDENCE} more", "see the section below"])
            body.append(Table(["evidence", "value"], shown, numeric=(1,)))
        elif not c:
            body.append(Para(["The verdict does not report this condition."], kind="note"))
        wide = " wide" if key == "economics" and len(shown_keys) % 2 == 1 else ""  # alone on its row: span it
        cards.append(Box(f"condition c-{STATUS.get(str(c.get('status')), ('', 'neutral'))[1]}{wide}", body))
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
    actions = [a for a in as_list(v.get("next_actions")) if a]
    if actions:
        blocks += [Heading(3, "Next actions"), Bullets([[str(a)] for a in actions], ordered=True)]
    return [Box(f"verdict-card v-{kind}", blocks)]


def _verdict_lead(v: dict[str, Any], name: str, conf: str) -> str:
    """The verdict's explanation, once: an explanation key if the verdict has one, else its summary unless that
    only repeats the heading, the confidence badge and the rule already shown above it."""
    plain = as_dict(v.get("plain"))  # tunegate assess: {headline, why, conditions}
    for val in (plain.get("why"), *(v.get(k) for k in ("explanation", "reason", "why", "plain_summary"))):
        if isinstance(val, list):
            val = " ".join(str(x) for x in val if x)
        if isinstance(val, str) and val.strip():
            return val.strip()
    summary = str(v.get("summary") or "").strip()
    rule = str(v.get("rule") or "").strip()
    generated = {f"{name} ({conf} confidence): rule {rule}", f"{name} ({conf} confidence)", name, rule}
    return "" if summary in generated else summary


# ---------------------------------------------------------------- criterion
def criterion_section(arts: RunArtifacts) -> list:
    title, question, anchor = CONDITIONS["criterion"]
    out: list = [Heading(2, f"{title} — the evaluation suite", anchor=anchor), Para([question], kind="note"),
                 *condition_line(arts, "criterion")]
    ec = arts.get("evalcheck")
    if ec is None:
        out.append(missing("no criterion-gate result (evalcheck.json) in this run.", "tunegate check-eval CONFIG"))
        return out
    out.append(Para(["Criterion gate: ", gate_badge(ec.get("gate", "unknown"))]))
    reasons = [r for r in as_list(ec.get("reasons")) if r]
    if reasons:
        out.append(Bullets([[str(r)] for r in reasons]))
    checks = [c for c in as_list(ec.get("checks")) if isinstance(c, dict)]
    if checks:
        out.append(checks_table(checks))
    warnings = [w for w in as_list(ec.get("warnings")) if w]
    if warnings:
        out.append(Para(["Warnings:"], kind="note"))
        out.append(Bullets([[str(w)] for w in warnings]))
    facts = fold_evidence(ec, skip=("gate", "reasons", "checks", "run", "schema_version", "artifact", "task",
                                    "warnings", "scorers", "discrimination", "negatives", "consistency",
                                    "human_agreement", "power", "criterion_diff", "usage", "thresholds"),
                          fmt_for=evidence_formatter(arts))
    if facts:
        out.append(Table(["measure", "value"], [[k, val] for k, val in facts], numeric=(1,), compact=True))
    return out


def checks_table(checks: list[dict[str, Any]]) -> Table:
    rows = []
    for c in checks:
        flagged = c.get("n_items")
        rows.append([humanize(c.get("name", "")), gate_badge(c.get("status", "unknown")), fmt_value(c.get("value")),
                     fmt_value(c.get("threshold")) if c.get("threshold") is not None else "–",
                     "–" if flagged is None else fmt_num(flagged), str(c.get("detail") or "")])
    return Table(["check", "status", "value", "threshold", "items flagged", "detail"], rows, numeric=(2, 3, 4))


# ---------------------------------------------------------------- prompting gap
def _eval_label(path: Path, e: dict[str, Any], arts: RunArtifacts) -> str:
    prompt = Path(str(e.get("prompt_source") or "")).name or "prompt"
    return " · ".join(str(x) for x in (e.get("model") or arts.rel(path.parent), e.get("method"), prompt) if x)


def _eval_cost_per_1k(e: dict[str, Any]) -> float | None:
    """Measured spend per 1,000 subject calls (cache savings added back: the price of a cold request)."""
    usage = as_dict(e.get("usage"))
    u = as_dict(get(as_dict(usage.get("by_role")), "subject")) or as_dict(usage.get("total"))
    calls, cost = num(u.get("calls")), num(u.get("cost"))
    if not calls or cost is None:
        return None
    return (cost + (num(u.get("cost_saved")) or 0.0)) / calls * 1000


def prompting_section(arts: RunArtifacts) -> list:
    title, question, anchor = CONDITIONS["prompting_gap"]
    out: list = [Heading(2, f"{title} — what prompting reaches", anchor=anchor), Para([question], kind="note"),
                 *condition_line(arts, "prompting_gap")]
    money = money_formatter(get(arts.get("cost"), "currency", default="$"))
    sprint = arts.get("sprint")
    if sprint is not None:
        out += _sprint_blocks(sprint, money)
    else:
        out.append(missing("no prompt sprint (sprint.json) in this run"
                           + (", so the individual evaluations found are shown instead." if arts.evals else "."),
                           "tunegate sprint CONFIG"))
    if arts.evals:
        out += _eval_blocks(arts, money, heading=sprint is not None)
    out += probe_blocks(arts)
    return out


def _sprint_blocks(sprint: dict[str, Any], money) -> list:
    cands = [c for c in as_list(sprint.get("candidates")) if isinstance(c, dict)]
    target, best = num(sprint.get("target")), sprint.get("best")
    if isinstance(best, dict):  # sprint.json: best = {candidate, value, ci_low, ci_high, n}
        best = best.get("candidate")
    metric = str(sprint.get("metric") or "metric")
    out: list = [Heading(3, "Prompt sprint leaderboard")]
    if not cands:
        return out + [Para(["sprint.json lists no candidates."], kind="missing")]
    cands = sorted(cands, key=lambda c: -(num(c.get("value")) if num(c.get("value")) is not None else -1e300))
    baseline = _baseline(sprint, cands)
    if baseline is not None and baseline not in cands:  # not a finalist: tested on test all the same
        cands.append(baseline)
    rows_chart, rows = [], []
    for i, c in enumerate(cands, 1):
        is_best = best is not None and c.get("name") == best
        rows_chart.append({"label": str(c.get("name", "")), "value": num(c.get("value")), "low": num(c.get("ci_low")),
                           "high": num(c.get("ci_high")), "highlight": is_best})
        per_1k = get(c, "cost_per_1000", "cost_per_1k")
        tags = ([" ", Badge("best", "info")] if is_best else []) + (
            [" ", Badge("zero-shot baseline", "outline")] if c is baseline else [])
        rows.append([fmt_num(i), [str(c.get("name", ""))] + tags,
                     fmt_ci(c.get("value"), c.get("ci_low"), c.get("ci_high")), fmt_num(c.get("n")),
                     money(per_1k) if per_1k is not None else "–"])
    svg = charts.interval_chart(rows_chart, x_label=metric, target=target, title=f"sprint candidates: {metric}")
    if svg:
        out.append(Chart(svg, f"Sprint candidates: {metric} with 95% confidence intervals"
                              + (f"; dashed line: target {fmt_num(target)}" if target is not None else "")))
    out.append(Table(["#", "candidate", f"{metric} (95% CI)", "n", "cost per 1,000 requests"], rows,
                     numeric=(0, 2, 3, 4)))
    top = next((c for c in cands if c.get("name") == best), cands[0])
    line: list = [Strong(f"Best prompt: {top.get('name', '')}"), " reaches ",
                  fmt_ci(top.get("value"), top.get("ci_low"), top.get("ci_high"))]
    if target is not None:
        line += [" against a target of ", fmt_num(target)]
        lo, hi = num(top.get("ci_low")), num(top.get("ci_high"))
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


def _baseline(sprint: dict[str, Any], cands: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The sprint's zero-shot baseline: a finalist flagged ``baseline``, or sprint.json's ``baseline`` summary."""
    flagged = next((c for c in cands if c.get("baseline") is True), None)
    if flagged is not None:
        return flagged
    b = sprint.get("baseline")
    if isinstance(b, dict) and b.get("name"):
        same = next((c for c in cands if c.get("name") == b["name"]), None)
        return same if same is not None else (b if "value" in b else None)
    return None


def _baseline_line(sprint: dict[str, Any], top: dict[str, Any], base: dict[str, Any]) -> list:
    line: list = [Strong(f"Zero-shot baseline: {base.get('name', '')}"), " reaches ",
                  fmt_ci(base.get("value"), base.get("ci_low"), base.get("ci_high"))]
    cmp_ = next((c for c in as_list(sprint.get("comparisons")) if isinstance(c, dict)
                 and c.get("comparison") == "best_vs_baseline"), None)
    if cmp_ and num(cmp_.get("diff")) is not None:
        d = num(cmp_["diff"])
        line += [f"; the best prompt is {'+' if d >= 0 else '−'}{fmt_num(abs(d), 3)} above it on the same "
                 f"{fmt_num(cmp_.get('n'))} test items (paired ",
                 ci_text(cmp_.get("ci_low"), cmp_.get("ci_high")) or "no interval", ")"]
        if cmp_.get("p_holm") is not None:
            line.append(f", Holm-adjusted p = {fmt_num(cmp_['p_holm'])}")
        line.append(".")
    else:
        dv, bv = num(top.get("value")), num(base.get("value"))
        if dv is not None and bv is not None:
            line.append(f"; the best prompt is {dv - bv:+.3f} above it.")
    return line


def _eval_blocks(arts: RunArtifacts, money, heading: bool) -> list:
    out: list = [Heading(3, "Evaluation runs")] if heading else []
    evals = sorted(arts.evals, key=lambda pe: -(num(pe[1].get("value")) if num(pe[1].get("value")) is not None
                                                 else -1e300))
    metrics = {str(e.get("metric") or "metric") for _, e in evals}
    metric = metrics.pop() if len(metrics) == 1 else "metric"
    target = next((num(e.get("target")) for _, e in evals if num(e.get("target")) is not None), None)
    rows_chart, rows = [], []
    for path, e in evals:
        label = _eval_label(path, e, arts)
        rows_chart.append({"label": label, "value": num(e.get("value")), "low": num(e.get("ci_low")),
                           "high": num(e.get("ci_high"))})
        n_uns = num(e.get("n_unscored")) or 0
        per_1k = _eval_cost_per_1k(e)
        rows.append([label, str(e.get("split") or "–"),
                     fmt_ci(e.get("value"), e.get("ci_low"), e.get("ci_high"), level=e.get("confidence", 0.95)),
                     fmt_num(e.get("n")) + (f" ({fmt_num(int(n_uns))} unscored)" if n_uns else ""),
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
    for key, what in (("per_label", "recall per gold label"), ("per_slice", "per slice")):
        out += _breakdown(best, key, what, _eval_label(best_path, best, arts), target)
    return out


def _breakdown(e: dict[str, Any], key: str, what: str, label: str, target: float | None) -> list:
    data = as_dict(e.get(key))
    if not data:
        return []
    groups = {"": data} if key == "per_label" else {str(g): as_dict(v) for g, v in data.items()}
    rows = []
    for g, entries in groups.items():
        for name, m in entries.items():
            m = as_dict(m)
            rows.append({"label": f"{g}: {name}" if g else str(name), "value": num(m.get("value")),
                         "low": num(m.get("ci_low")), "high": num(m.get("ci_high")), "n": m.get("n")})
    if not rows:
        return []
    svg = charts.interval_chart(rows[:40], x_label=str(e.get("metric") or "metric") if key == "per_slice"
                                else "recall", target=target, title=f"{label}: {what}")
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
    probe = arts.get("probe")
    if probe is None:
        return out + [missing("no fine-tune probe (probe.json) in this run.", "tunegate probe CONFIG")]
    sprint = arts.get("sprint") or {}
    target = num(get(probe, "target", default=sprint.get("target")))
    rows = []
    for p in as_list(probe.get("probes")):
        if isinstance(p, dict):
            rows.append({"label": str(p.get("name", "probe")), "value": num(p.get("value")),
                         "low": num(p.get("ci_low")), "high": num(p.get("ci_high")), "n": p.get("n")})
    best_name = sprint.get("best")
    best_name = best_name.get("candidate") if isinstance(best_name, dict) else best_name  # sprint.json: a dict
    best = next((c for c in as_list(sprint.get("candidates"))
                 if isinstance(c, dict) and c.get("name") == best_name), None)
    if best:
        rows.append({"label": f"best prompt: {best.get('name', '')}", "value": num(best.get("value")),
                     "low": num(best.get("ci_low")), "high": num(best.get("ci_high")), "n": best.get("n"),
                     "highlight": True})
    if rows:
        svg = charts.interval_chart(rows, x_label=str(probe.get("metric") or sprint.get("metric") or "metric"),
                                    target=target, title="fine-tune probes against the best prompt")
        if svg:
            out.append(Chart(svg, "Fine-tune probes (and the best sprint prompt, highlighted) with 95% CIs"))
        out.append(Table(["probe", "value (95% CI)", "n"],
                         [[r["label"], fmt_ci(r["value"], r["low"], r["high"]), fmt_num(r["n"])] for r in rows],
                         numeric=(1, 2)))
    labels_in = as_dict(as_dict(get(arts.get("cost"), "inputs")).get("labeling.labels_needed"))
    out += _learning_curve(as_dict(probe.get("learning_curve")), target, labels_in)
    return out


def _learning_curve(lc: dict[str, Any], target: float | None, cost_labels: dict[str, Any] | None = None) -> list:
    out: list = [Heading(4, "Learning curve")]
    points = [p for p in as_list(lc.get("points")) if isinstance(p, dict)]
    if not points:
        return out + [Para(["No learning curve in probe.json."], kind="missing")]
    target_err = num(lc.get("target_error"))
    target_note = ""
    if target_err is None and target is not None and 0 <= target <= 1:
        target_err, target_note = 1 - target, f" (1 − target {fmt_num(target)})"
    fit = lc.get("fit") if isinstance(lc.get("fit"), dict) else None
    needed = num(lc.get("labels_needed"))
    svg = charts.learning_curve_chart(points, fit=fit, target_error=target_err, labels_needed=needed)
    if svg:
        out.append(Chart(svg, "Learning curve: error against training-set size, seeds' spread and fitted curve"))
    used = num(get(cost_labels, "mean"))
    if needed is not None:
        sub = "from the fitted curve; an extrapolation"
    elif used is not None:  # say which number the economics used instead, so two figures never disagree silently
        src = {"default": "its default", "spec": "the spec's value", "caller": "the probe"}.get(
            str(get(cost_labels, "source")), "its input")
        sub = f"no trustworthy fit: the cost model used {fmt_num(round(used))} labels ({src}) instead"
    else:
        sub = ""
    stats: list = [("labels needed to reach the target", fmt_num(round(needed)) if needed is not None
                    else "not estimated from the curve", sub)]
    if fit and all(num(fit.get(k)) is not None for k in "abc"):
        stats.append(("fitted curve", f"error(n) = {fmt_num(fit['a'])} + {fmt_num(fit['b'])}·n^(−{fmt_num(fit['c'])})",
                      "weighted least squares"))
    else:
        stats.append(("fitted curve", "no trustworthy fit", "see the flags below"))
    if target_err is not None:
        stats.append(("target error", fmt_num(target_err), target_note.strip(" ()")))
    out.append(Stats(stats))
    flags = [f for f in as_list(lc.get("flags")) if f]
    if flags:
        out += [Para(["Curve flags:"], kind="note"), Bullets([[str(f)] for f in flags])]
    rows = []
    for p in points:
        seeds = [s for s in as_list(p.get("seeds")) if num(s) is not None]
        rows.append([fmt_num(p.get("n")), fmt_num(p.get("error")),
                     f"{fmt_num(min(seeds))}–{fmt_num(max(seeds))} ({len(seeds)} seeds)" if seeds else "–"])
    out.append(Table(["training examples", "mean error", "seed range"], rows, numeric=(0, 1, 2)))
    return out

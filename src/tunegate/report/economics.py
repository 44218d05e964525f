"""The economics section (TCO distributions, break-even, sensitivity) and the reproducibility section.

cost.json is read through its model (``artifact_models.cost.CostArtifact``): the TCO summaries and their breakdown,
the net value and its terms, the break-even, the histogram, the sensitivity rows and the inputs are typed fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tunegate.report.charts as charts
from tunegate.artifact_models import CostArtifact
from tunegate.artifact_models.cost import CostInput, NetValue, SensitivityRow, Summary
from tunegate.report.collect import STAGES, RunArtifacts, given, present
from tunegate.report.doc import (
    Badge,
    Bullets,
    Chart,
    Code,
    Heading,
    Para,
    Small,
    Stats,
    Strong,
    Table,
    fmt_count,
    fmt_num,
    fmt_pct,
    humanize,
    money_formatter,
    num,
)
from tunegate.report.sections import absent, condition_line

PATHS = ("prompting", "fine_tuning")
PATH_NAMES = {"prompting": "Keep prompting", "fine_tuning": "Fine-tune"}
PATH_COLORS = {"prompting": charts.BLUE, "fine_tuning": charts.ORANGE}
QUANTILES = ("p05", "median", "p95", "mean")


def _quantiles(cost: CostArtifact) -> dict[str, dict[str, float | None]]:
    """Per path, the TCO summary's quantiles (None where the path or the quantile is absent)."""
    out = {}
    for p in PATHS:
        s = cost.path_tco(p)
        out[p] = {q: num(getattr(s, q)) if s is not None else None for q in QUANTILES}
    return out


def _histograms(cost: CostArtifact) -> dict[str, tuple[list, list]]:
    """cost.json's ``distribution``: shared ``bin_edges`` and one list of counts per path."""
    h = cost.distribution
    out = {}
    for p in PATHS:
        counts = getattr(h, p) if h is not None else None
        if h is not None and h.bin_edges is not None and counts is not None:
            out[p] = (h.bin_edges, counts)
    return out


def economics_section(arts: RunArtifacts) -> list:
    cost = arts.cost
    horizon = cost.horizon_months if cost is not None else None
    h = f"{int(horizon)}-month total cost of ownership" if horizon else "total cost of ownership over the horizon"
    out: list = [Heading(2, f"Economics — {h}", anchor="economics"),
                 Para(["Is fine-tuning worth its total cost over the horizon, evaluation tax included?"], kind="note"),
                 *condition_line(arts, "economics")]
    if cost is None:
        return out + [absent(arts, "cost", "no cost model (cost.json) in this run.", "tunegate cost CONFIG")]
    money = money_formatter(cost.currency or "$")
    nv = cost.expected_net_value_of_finetuning if present(cost.expected_net_value_of_finetuning) else None
    p_cheaper = cost.p_finetune_cheaper
    stats = [("P(fine-tuning is cheaper)", fmt_pct(p_cheaper) if p_cheaper is not None else "–",
              f"share of {fmt_num(cost.n_draws)} Monte Carlo draws" if cost.n_draws else "share of Monte Carlo draws")]
    if nv is not None:
        rng = f"5–95%: {money(nv.p05)} to {money(nv.p95)}" if nv.p05 is not None else ""
        stats.append(("expected net value of fine-tuning", money(nv.mean if nv.mean is not None else nv.median), rng))
    be = num(cost.breakeven_monthly_volume)
    note = cost.breakeven.reason if cost.breakeven is not None else None
    stats.append(("break-even monthly volume", f"{fmt_count(be)} requests" if be is not None else "none",
                  str(note or "")))
    out.append(Stats(stats))
    out += _net_value_blocks(cost, nv, money)
    out += _tco_blocks(cost, money)
    out += _sensitivity_blocks(cost.sensitivity, nv, money)
    out += _inputs_table(cost.inputs)
    return out


def _tco_blocks(cost: CostArtifact, money) -> list:
    out: list = [Heading(3, "Total cost of each path")]
    qs, hist = _quantiles(cost), _histograms(cost)
    series = [{"name": PATH_NAMES[p], "edges": hist[p][0], "counts": hist[p][1], "color": PATH_COLORS[p],
               **{k: qs[p][k] for k in ("p05", "median", "p95")}} for p in PATHS if p in hist]
    svg = charts.histogram_chart(series, x_label="total cost of ownership", fmt=money,
                                 title="TCO distributions of both paths")
    if svg:
        out.append(Chart(svg, "Monte Carlo distributions of each path's total cost, with 5th, 50th and 95th "
                              "percentiles"))
    else:
        rows = [{"label": PATH_NAMES[p], "value": qs[p]["median"], "low": qs[p]["p05"], "high": qs[p]["p95"]}
                for p in PATHS if qs[p]["median"] is not None]
        svg = charts.interval_chart(rows, x_label="total cost of ownership (median, 5–95%)", fmt=money,
                                    value_fmt=money)
        if svg:
            out.append(Chart(svg, "Median TCO of each path with its 5–95% range (the distributions were not "
                                  "stored in cost.json)"))
    paths = {p: s for p in PATHS if present(s := cost.path_tco(p))}
    rows = [[PATH_NAMES[p], money(qs[p]["median"]), f"{money(qs[p]['p05'])} – {money(qs[p]['p95'])}",
             money(qs[p]["mean"])] for p in paths]
    if not rows:
        return out + [Para(["cost.json has no per-path TCO summary."], kind="missing")]
    out.append(Table(["path", "median", "5–95% range", "mean"], rows, numeric=(1, 2, 3)))
    bd = {p: paths[p].breakdown if p in paths else {} for p in PATHS}
    comps = list(dict.fromkeys([*bd["prompting"], *bd["fine_tuning"]]))
    if comps:
        rows = [[humanize(c), money(bd["prompting"].get(c)), money(bd["fine_tuning"].get(c))] for c in comps]
        q = _quality_mean(cost.expected_net_value_of_finetuning)
        if q is not None:  # not a cost: the value a quality gain brings, credited to fine-tuning in the net value
            rows.append(["value of quality (credited to fine-tuning, not a cost)", "–", money(q)])
        out.append(Table(["component (mean over draws)", PATH_NAMES["prompting"], PATH_NAMES["fine_tuning"]],
                         rows, numeric=(1, 2), caption="Where the money goes"))
    per_1k = (cost.breakeven.inference_cost_per_1k_requests if cost.breakeven is not None else None) or {}
    if per_1k:
        out.append(Para(["Inference cost per 1,000 requests: ", "; ".join(
            f"{PATH_NAMES.get(p, humanize(p))} {money(c)}" for p, c in per_1k.items()), "."]))
    return out


def _quality_mean(nv: NetValue | None) -> float | None:
    q = nv.quality_value if nv is not None else None  # a number, or a summary of the draws
    return num(q.mean) if isinstance(q, Summary) else num(q)


def _net_value_blocks(cost: CostArtifact, nv: NetValue | None, money) -> list:
    """Net value = prompting TCO − fine-tuning TCO + value of quality, each term shown, and a sentence when the
    sign comes from the value of quality alone (a gain measured against a weak prompt can carry the whole case)."""
    if nv is None:
        return []
    net = num(nv.mean)
    qs = _quantiles(cost)
    tp, tf = qs["prompting"]["mean"], qs["fine_tuning"]["mean"]
    diff = num(nv.tco_difference_mean)
    if diff is None and tp is not None and tf is not None:
        diff = tp - tf
    q = _quality_mean(nv)
    if net is None or diff is None:
        return []
    per_point = cost.inputs.get("quality.value_per_point_per_month")
    gain = cost.inputs.get("quality.gain_points")
    how = ""
    if q is not None and per_point is not None and gain is not None and present(per_point) and present(gain):
        how = (f"{money(per_point.mean)} per metric point per month × a gain of {fmt_num(gain.mean)} "
               f"points ({_source_words(gain.source)}) × the months fine-tuning is live")
    rows = [["total cost of keeping prompting (mean)", money(tp), ""],
            ["− total cost of fine-tuning (mean)", money(-tf) if tf is not None else "–", ""],
            ["= what fine-tuning saves in cost", money(diff), "negative: fine-tuning costs more" if diff < 0 else ""],
            ["+ value of quality", money(q) if q is not None else "not priced",
             how or ("set quality.value_per_point_per_month in the costs: section to price a quality gain"
                     if q is None else "")],
            ["= expected net value of fine-tuning", money(net), ""]]
    out: list = [Table(["term", "mean over draws", "where it comes from"], rows, numeric=(1,),
                       caption="Where the net value comes from")]
    if q is not None and net > 0 and diff <= 0:
        out.append(Para([Strong("The positive net value comes from the value of quality alone: "),
                         f"fine-tuning costs {money(-diff)} more than prompting, and the quality gain is valued at "
                         f"{money(q)}. That gain is measured against the best prompt in this run; a stronger prompt "
                         "or model shrinks it (see the prompting gap above)."], kind="note"))
    elif q is None:
        out.append(Para(["The value of a quality gain is not priced in this spec: the net value is the cost "
                         "difference alone."], kind="note"))
    return out


def _source_words(source: Any) -> str:
    return {"caller": "measured: the probe's gain over the best prompt", "default": "a default",
            "spec": "from the spec"}.get(str(source), f"source: {source}" if source else "source not recorded")


def _sensitivity_blocks(sens: list[SensitivityRow], nv: NetValue | None, money) -> list:
    out: list = [Heading(3, "What moves the answer (sensitivity)")]
    rows = []
    for r in sens:
        # low / high are the input's 10th / 90th percentile; net_value_at_* the outcomes there
        rows.append({"label": humanize(r.input if r.input is not None else ""), "at_low": num(r.net_value_at_low),
                     "at_high": num(r.net_value_at_high), "swing": num(r.swing),
                     "range": f"{fmt_num(r.low)} → {fmt_num(r.high)}", "dist": str(r.distribution or ""),
                     "p_low": r.p_positive_at_low, "p_high": r.p_positive_at_high})
    if not rows:
        return out + [Para(["No sensitivity ranking: every cost input is a point value."], kind="note")]
    base = num(nv.mean) if nv is not None else None
    svg = charts.tornado_chart(rows, base=base, x_label="expected net value of fine-tuning", fmt=money,
                               title="sensitivity of the net value of fine-tuning")
    if svg:
        out.append(Chart(svg, "Tornado: expected net value of fine-tuning when each input moves from its 10th to "
                              "its 90th percentile, the others held at their means"))
    with_p = any(r["p_low"] is not None for r in rows)
    table = [[r["label"], r["dist"] or "–", r["range"] or "–", f"{money(r['at_low'])} → {money(r['at_high'])}",
              money(r["swing"]), *([f"{fmt_pct(r['p_low'])} → {fmt_pct(r['p_high'])}"] if with_p else [])]
             for r in rows]
    out.append(Table(["input", "distribution", "input: 10th → 90th pct", "net value: low → high", "swing",
                      *(["P(net value > 0)"] if with_p else [])], table, numeric=(2, 3, 4, 5)))
    return out


def _inputs_table(inputs: dict[str, CostInput]) -> list:
    if not inputs:
        return []
    rows = []
    for k, d in inputs.items():
        p10, p90 = num(d.p10), num(d.p90)
        spread = f"{fmt_num(p10)} – {fmt_num(p90)}" if p10 is not None and p90 is not None and p10 != p90 else "–"
        rows.append([[humanize(k), Small(str(k))], str(d.distribution) if d.distribution is not None else "–",
                     fmt_num(d.mean), spread,
                     {"caller": "measured (fine-tune probe)"}.get(str(d.source), str(d.source or "–"))])
    return [Heading(3, "Cost model inputs"),
            Table(["input", "distribution", "mean", "10th – 90th percentile", "source"], rows, numeric=(2, 3))]


# ---------------------------------------------------------------- reproducibility
def reproducibility_section(arts: RunArtifacts) -> list:
    out: list = [Heading(2, "Reproducibility", anchor="reproducibility"),
                 Para(["Every number above comes from these artifacts; each records how it was produced."],
                      kind="note")]
    found: list[tuple[str, Path, Any]] = [(name, arts.paths[name], arts.data[name]) for name in STAGES
                                          if name in arts.data]
    found += [(f"eval ({arts.rel(p.parent)})", p, e) for p, e in arts.evals]
    rows, commands, packages = [], [], {}
    notes: list[str] = []
    for name, path, art in found:
        # only what the file recorded: a model fills an absent run block with this process's own provenance
        run = art.run if "run" in art.model_fields_set else None
        seed = run.seed if run is not None and "seed" in run.model_fields_set else given(art, "seed")
        rows.append([name, arts.rel(path), str(given(run, "tunegate_version") or "–"), fmt_num(seed),
                     str(given(run, "config_hash") or "–"), str(given(run, "started") or "–"),
                     str(given(run, "finished") or "–")])
        command = given(run, "command")
        if command and command not in commands:
            commands.append(str(command))
        for pkg, ver in (given(run, "packages") or {}).items():
            packages.setdefault(str(pkg), set()).add(str(ver))
        if given(run, "python"):
            packages.setdefault("python", set()).add(str(run.python))
    if rows:
        out.append(Table(["artifact", "path (in the run directory)", "tunegate", "seed", "config hash", "started",
                          "finished"], rows, numeric=(3,), caption="Artifacts found"))
    hashes = {r[4] for r in rows if r[4] != "–"}
    if len(hashes) > 1:
        notes.append(f"The artifacts come from {len(hashes)} different configurations (config hashes differ): "
                     "re-run the stale stages before trusting the verdict.")
    missing_stages = [[f"{name}.json", Badge("unreadable", "bad") if name in arts.failed else Badge("missing", "faint"),
                       Code(cmd)] for name, cmd in STAGES.items() if name not in arts.data]
    if missing_stages:
        out.append(Table(["artifact", "status", "produced by"], missing_stages, caption="Not in this run"))
    if arts.unreadable:
        out.append(Table(["file", "why it was skipped"], [[k, v] for k, v in arts.unreadable.items()],
                         caption="Artifacts that could not be read"))
    if notes:
        out.append(Bullets([[n] for n in notes]))
    if commands:
        out += [Heading(3, "Commands"), Bullets([[Code(c)] for c in commands])]
    if packages:
        out.append(Table(["package", "version"], [[p, ", ".join(sorted(v))] for p, v in sorted(packages.items())],
                         caption="Versions recorded by the artifacts", compact=True))
    v = arts.verdict
    inputs = v.inputs.model_dump(exclude_unset=True) if v is not None and "inputs" in v.model_fields_set else {}
    if inputs:
        out.append(Table(["verdict input", "path"], [[str(k), _paths_text(p, arts)] for k, p in inputs.items()],
                         caption="Artifacts the verdict was computed from", compact=True))
    return out


def _paths_text(p: Any, arts: RunArtifacts) -> str:
    if not p:
        return "not available"
    paths = p if isinstance(p, list) else [p]
    shown = [arts.rel(Path(x)) if isinstance(x, str) else str(x) for x in paths[:10]]
    return ", ".join(shown) + (f", … ({len(paths)} in all)" if len(paths) > 10 else "")

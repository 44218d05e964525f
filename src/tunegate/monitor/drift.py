"""Drift tests: one small protocol, a registry, and the column-level tests (PSI, KS, chi-square, text length,
output labels, confidence, unscored rate).

A drift test is anything with a ``name`` and ``run(reference, current, ctx) -> list[TestResult]``; it plugs in
with ``@register_test("name")`` (the contract lives in the leaf ``test_base``, the shared statistics in the leaf
``statistics``, so test modules never import each other). Tests return raw statistics, p-values, whether their
effect reaches the spec's floor, and what changed in words; ``stage.finalize`` then applies the Holm correction
across the whole family and sets each status, so adding a test never inflates the false-alarm rate silently.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from tunegate.monitor.explain import category_change, category_message, numeric_message, numeric_summary
from tunegate.monitor.statistics import (  # noqa: F401  (re-exported: the statistics used to live here)
    MIN_EXPECTED,
    PSI_EPS,
    binned_counts,
    category_counts,
    chi2_two_sample,
    counted_categories,
    ks_two_sample,
    psi,
    psi_from_counts,
    quantile_edges,
    standardized_mean_difference,
    total_variation,
    two_proportion_p,
)
from tunegate.monitor.test_base import (  # noqa: F401  (re-exported for plug-ins written against drift)
    Context,
    DriftTest,
    TestResult,
    configure_tests,
    register_test,
    tests_registered_so_far,
)
from tunegate.monitor.windows import Window
from tunegate.plugins import load_entry_points


def registered_tests() -> dict[str, DriftTest]:
    """All registered tests, the built-in plug-ins imported first and installed plug-ins (entry points) loaded,
    so the registry is complete. The built-ins read their settings from ``monitor.thresholds`` / ``.embedding``
    and declare no per-entry options."""
    import tunegate.monitor.embedding_drift  # noqa: F401
    import tunegate.monitor.performance  # noqa: F401

    load_entry_points()
    return tests_registered_so_far()


# ------------------------------------------------------------------------------------ generic builders


def _finite(x: float) -> float | None:
    return round(float(x), 4) if np.isfinite(x) else None


def numeric_results(name: str, kind: str, ref: np.ndarray, cur: np.ndarray, ctx: Context,
                    subject: str | None = None) -> list[TestResult]:
    """PSI (threshold, paired with KS) and KS (p-value) for one numeric series. KS counts as an effect only when
    D >= min_ks_d, |SMD| >= min_smd or PSI >= psi; both carry before/after summaries and the change in words."""
    if len(ref) < 2 or len(cur) < 2:
        return ctx.skip(name, f"too few values (reference {len(ref)}, current {len(cur)})")
    th = ctx.cfg.thresholds
    edges = quantile_edges(ref, th.psi_bins)
    value, parts = psi_from_counts(binned_counts(ref, edges), binned_counts(cur, edges))
    d, p = ks_two_sample(ref, cur)
    smd = standardized_mean_difference(ref, cur)
    bounds = [-np.inf, *edges.tolist(), np.inf]
    worst = [{"bin": [_finite(bounds[i]), _finite(bounds[i + 1])], "contribution": round(float(parts[i]), 5)}
             for i in np.argsort(-parts)[:3] if parts[i] > 0]
    rs, cs = numeric_summary(ref), numeric_summary(cur)
    met = d >= th.min_ks_d or abs(smd) >= th.min_smd or value >= th.psi
    effect = {"ks_d": round(d, 4), "smd": _finite(smd), "psi": round(value, 4),
              "floors": {"min_ks_d": th.min_ks_d, "min_smd": th.min_smd, "psi": th.psi}, "met": bool(met)}
    msg = numeric_message(subject or name, rs, cs, smd)
    summaries = {"reference_summary": rs, "current_summary": cs}
    return [
        TestResult(f"psi:{name}", kind, value, threshold=th.psi, pair=f"ks:{name}", n_reference=len(ref),
                   n_current=len(cur), detail=f"{len(edges) + 1} bins fixed on the reference", examples=worst,
                   message=msg, extra=summaries),
        TestResult(f"ks:{name}", kind, d, p_value=p, n_reference=len(ref), n_current=len(cur),
                   detail=f"mean {rs['mean']:.4g} -> {cs['mean']:.4g}; SMD {smd:+.3g}", effect_met=bool(met),
                   message=msg, extra={"effect": effect}),
    ]


def categorical_results(name: str, kind: str, ref: list[str] | Counter, cur: list[str] | Counter, ctx: Context,
                        subject: str | None = None, noun: str = "values") -> list[TestResult]:
    """PSI over categories (threshold, paired with chi-square) and the chi-square test of homogeneity, which
    counts as an effect only when the total variation distance reaches min_tvd (or PSI reaches psi). New
    categories are named one by one with their share, beside the largest gains and losses."""
    if not ref or not cur:
        return ctx.skip(name, f"no values (reference {len(ref)}, current {len(cur)})")
    th = ctx.cfg.thresholds
    rc = ref if isinstance(ref, Counter) else Counter(ref)  # a window's categorical_counts, or the values
    cc = cur if isinstance(cur, Counter) else Counter(cur)
    n_ref, n_cur = sum(rc.values()), sum(cc.values())
    cats, r, c = counted_categories(rc, cc)
    value, parts = psi_from_counts(r, c)
    stat, dof, p = chi2_two_sample(r, c)
    tvd = total_variation(rc, cc)
    rs, cs = r / r.sum(), c / c.sum()
    top = [{"value": cats[i], "reference_share": round(float(rs[i]), 4), "current_share": round(float(cs[i]), 4)}
           for i in np.argsort(-parts)[:5] if parts[i] > 0]
    change = category_change(rc, cc)
    msg = category_message(subject or name, noun, change)
    met = tvd >= th.min_tvd or value >= th.psi
    effect = {"tvd": round(tvd, 4), "psi": round(value, 4), "floors": {"min_tvd": th.min_tvd, "psi": th.psi},
              "met": bool(met)}
    res = [TestResult(f"psi:{name}", kind, value, threshold=th.psi, pair=f"chi2:{name}",
                      n_reference=n_ref, n_current=n_cur, detail=f"{len(cats)} categories", examples=top,
                      message=msg, extra={"change": change})]
    if dof == 0:
        ctx.skip(f"chi2:{name}", "fewer than two categories with enough counts for a chi-square test")
        res[0].pair = None
        res[0].status = "ok"
        res[0].detail += " (no significance test possible: reported only)"
    else:
        res.append(TestResult(f"chi2:{name}", kind, stat, p_value=p, n_reference=n_ref, n_current=n_cur,
                              detail=f"dof {dof}; total variation {tvd:.3f}", effect_met=bool(met), message=msg,
                              extra={"effect": effect}))
    return res


# ------------------------------------------------------------------------------------------ the tests


@register_test("numeric")
class NumericColumns:
    """Each numeric metadata column: PSI and KS."""

    def run(self, reference: Window, current: Window, ctx: Context) -> list[TestResult]:
        out: list[TestResult] = []
        for j, col in enumerate(ctx.cfg.columns.numeric):
            if reference.training:
                ctx.skip(f"ks:{col}", "the training reference has no log metadata columns")
                continue
            ref, cur = reference.numeric_values(j), current.numeric_values(j)
            out += numeric_results(col, "input", ref, cur, ctx)
        return out


@register_test("categorical")
class CategoricalColumns:
    """Each categorical metadata column: PSI and chi-square (missing values are a category of their own)."""

    def run(self, reference: Window, current: Window, ctx: Context) -> list[TestResult]:
        out: list[TestResult] = []
        for j, col in enumerate(ctx.cfg.columns.categorical):
            if reference.training:
                ctx.skip(f"chi2:{col}", "the training reference has no log metadata columns")
                continue
            ref, cur = reference.categorical_counts(j), current.categorical_counts(j)
            out += categorical_results(col, "input", ref, cur, ctx, col, "values")
        return out


@register_test("text_length")
class TextLength:
    """Input length in characters: PSI and KS (longer or shorter messages often precede other drift)."""

    def run(self, reference: Window, current: Window, ctx: Context) -> list[TestResult]:
        ref, cur = reference.text_lengths(), current.text_lengths()
        return numeric_results("text_length", "input", ref, cur, ctx, "input length (characters)")


@register_test("output_label")
class OutputLabels:
    """The predicted-label distribution (unscored answers excluded; their rate is its own test)."""

    def run(self, reference: Window, current: Window, ctx: Context) -> list[TestResult]:
        ref = [p for p in ctx.predicted(reference) if p is not None]
        cur = [p for p in ctx.predicted(current) if p is not None]
        if not ref or not cur:
            return ctx.skip("chi2:output_label", "no parsed outputs in one of the windows")
        res = categorical_results("output_label", "output", ref, cur, ctx, "predicted labels", "labels")
        if reference.training:
            for r in res:
                r.detail += "; reference = training label distribution"
        return res


@register_test("label_distribution")
class GoldLabels:
    """The gold-label distribution on labeled rows (a prior shift, even when the model keeps up)."""

    def run(self, reference: Window, current: Window, ctx: Context) -> list[TestResult]:
        ref = [r.label for r in reference.records if r.label is not None]
        cur = [r.label for r in current.records if r.label is not None]
        if len(ref) < 10 or len(cur) < 10:
            return ctx.skip("chi2:label_distribution", f"too few labeled rows (reference {len(ref)}, current "
                            f"{len(cur)})")
        return categorical_results("label_distribution", "output", ref, cur, ctx, "gold labels", "labels")


@register_test("confidence")
class Confidence:
    """The model's confidence (or exp(logprob)) for its answers: PSI and KS."""

    def run(self, reference: Window, current: Window, ctx: Context) -> list[TestResult]:
        ref = np.array([r.confidence for r in reference.records if r.confidence is not None], float)
        cur = np.array([r.confidence for r in current.records if r.confidence is not None], float)
        if len(ref) < 10 or len(cur) < 10:
            return ctx.skip("ks:confidence", "no confidence or logprob column (or too few values)")
        return numeric_results("confidence", "output", ref, cur, ctx, "model confidence")


@register_test("unscored_rate")
class UnscoredRate:
    """Share of outputs that could not be parsed into an answer; only a rise alerts."""

    def run(self, reference: Window, current: Window, ctx: Context) -> list[TestResult]:
        if reference.training:
            return ctx.skip("unscored_rate", "the training reference has no model outputs")
        if all(r.output is None for r in reference.records) and all(r.output is None for r in current.records):
            return ctx.skip("unscored_rate", "no model outputs in the log")
        pr, pc = ctx.predicted(reference), ctx.predicted(current)
        ur, uc = sum(p is None for p in pr), sum(p is None for p in pc)
        p = two_proportion_p(ur, len(pr), uc, len(pc), "greater")
        rate = uc / len(pc)
        ex = [r.output[:200] for r, q in zip(current.records, pc) if q is None and r.output][:5]
        return [TestResult("unscored_rate", "output", rate, p_value=p, n_reference=len(pr), n_current=len(pc),
                           detail=f"unscored {ur / len(pr):.2%} -> {rate:.2%} (one-sided z-test for a rise)",
                           examples=ex, message=f"answers that could not be read as a label rose from "
                           f"{ur / len(pr):.1%} to {rate:.1%} of outputs")]

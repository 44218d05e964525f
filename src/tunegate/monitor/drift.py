"""Drift tests: one small protocol, a registry, and the column-level tests (PSI, KS, chi-square, text length,
output labels, confidence, unscored rate).

A drift test is anything with a ``name`` and ``run(reference, current, ctx) -> list[TestResult]``; it plugs in
with ``@register_test("name")``. Tests return raw statistics and p-values; ``stage.finalize`` then applies the
Holm correction across the whole family and sets each status, so adding a test never inflates the false-alarm
rate silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tunegate.monitor.config import MonitorSpec
from tunegate.monitor.windows import Window

PSI_EPS = 1e-4  # floor for empty bins, so one empty bin does not make PSI infinite
MIN_EXPECTED = 5.0  # chi-square cells with a smaller pooled expected count are merged


@dataclass
class TestResult:
    """One test's outcome. ``p_value`` tests are corrected together; ``threshold`` tests compare the statistic.
    ``pair`` names the significance test a threshold (effect-size) test needs to agree with before alerting."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    kind: str  # input | output | performance | version
    statistic: float | None
    p_value: float | None = None
    threshold: float | None = None
    status: str | None = None  # set by finalize unless a test fixes it (findings)
    detail: str = ""
    n_reference: int | None = None
    n_current: int | None = None
    pair: str | None = None
    p_adjusted: float | None = None
    examples: list[Any] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "kind": self.kind, "statistic": self.statistic, "p_value": self.p_value,
             "p_adjusted": self.p_adjusted, "threshold": self.threshold, "status": self.status,
             "detail": self.detail, "n_reference": self.n_reference, "n_current": self.n_current}
        if self.examples:
            d["examples"] = self.examples
        d.update(self.extra)
        return d


@dataclass
class Context:
    """What every test may read: the config, the task's labels, a seed, a lazy embedder, progress notes."""

    cfg: MonitorSpec
    labels: list[str] | None = None
    seed: int = 0
    embedder: Callable[[], Any] | None = None
    progress: Callable[[str], None] | None = None
    spec_path: str | None = None
    not_run: list[dict[str, str]] = field(default_factory=list)
    # registered test name -> permutations / simulations to use instead of its default (set by the stage when a
    # resampling p-value sits at its floor 1/(B+1) and could not survive the family-wise correction)
    resolution: dict[str, int] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)  # work a re-run test reuses (e.g. embeddings)
    summary: dict[str, Any] = field(default_factory=dict)  # top-level blocks a test adds to monitor.json
    _pred: dict[int, list[str | None]] = field(default_factory=dict)

    def skip(self, name: str, reason: str) -> list[TestResult]:
        self.not_run.append({"name": name, "reason": reason})
        return []

    def note(self, msg: str) -> None:
        if self.progress:
            self.progress(msg)

    def predicted(self, win: Window) -> list[str | None]:
        """Each row's predicted label: parsed against the task labels when known, else the raw output; None =
        unscored. A training reference has no outputs: its gold labels stand in (the label prior)."""
        key = id(win)
        if key not in self._pred:
            if win.training:
                self._pred[key] = [r.label for r in win.records]
            elif self.labels:
                from tunegate.evals.parsing import parse_label

                memo: dict[str, str | None] = {}
                out: list[str | None] = []
                for r in win.records:
                    if r.output is None:
                        out.append(None)
                        continue
                    if r.output not in memo:
                        memo[r.output] = parse_label(r.output, self.labels)
                    out.append(memo[r.output])
                self._pred[key] = out
            else:
                self._pred[key] = [r.output for r in win.records]
        return self._pred[key]


class DriftTest(Protocol):
    name: str

    def run(self, reference: Window, current: Window, ctx: Context) -> list[TestResult]: ...


_TESTS: dict[str, DriftTest] = {}


def register_test(name: str) -> Callable[[Any], Any]:
    """Class decorator: ``@register_test("numeric") class NumericDrift: ...``."""

    def deco(cls: Any) -> Any:
        obj = cls()
        obj.name = name
        _TESTS[name] = obj
        return cls

    return deco


def registered_tests() -> dict[str, DriftTest]:
    """All registered tests (the built-in plug-ins are imported here, so the registry is complete)."""
    import tunegate.monitor.embedding_drift  # noqa: F401
    import tunegate.monitor.performance  # noqa: F401

    return dict(_TESTS)


# ------------------------------------------------------------------------------------------- statistics


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (ties merged): the bins are fixed on the reference."""
    qs = np.quantile(np.asarray(reference, dtype=float), np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(qs)


def binned_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin; bin i is [edge[i-1], edge[i]) with open outer bins, so every value lands somewhere."""
    idx = np.searchsorted(edges, np.asarray(values, dtype=float), side="right")
    return np.bincount(idx, minlength=len(edges) + 1)


def psi_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray, eps: float = PSI_EPS) -> tuple[float, np.ndarray]:
    """Population stability index sum((c - r) * ln(c / r)) over bins; also each bin's contribution."""
    r = np.maximum(np.asarray(ref_counts, float) / max(1, np.sum(ref_counts)), eps)
    c = np.maximum(np.asarray(cur_counts, float) / max(1, np.sum(cur_counts)), eps)
    parts = (c - r) * np.log(c / r)
    return float(parts.sum()), parts


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI of a numeric column with quantile bins fixed on the reference."""
    edges = quantile_edges(reference, bins)
    return psi_from_counts(binned_counts(reference, edges), binned_counts(current, edges))[0]


def ks_two_sample(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic D and p-value (exact for small samples, asymptotic otherwise)."""
    from scipy.stats import ks_2samp

    res = ks_2samp(np.asarray(a, float), np.asarray(b, float))
    return float(res.statistic), float(res.pvalue)


def chi2_two_sample(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, int, float]:
    """Chi-square test of homogeneity on a 2 x K table; cells whose pooled expected count is below 5 are merged
    into one, so the asymptotic p-value is trustworthy. Returns (statistic, dof, p); dof 0 means no test."""
    from scipy.special import chdtrc

    rc, cc = np.asarray(ref_counts, float), np.asarray(cur_counts, float)
    n_r, n_c = rc.sum(), cc.sum()
    tot = rc + cc
    keep = tot * min(n_r, n_c) / (n_r + n_c) >= MIN_EXPECTED
    if (~keep).any():
        rc = np.append(rc[keep], rc[~keep].sum())
        cc = np.append(cc[keep], cc[~keep].sum())
        nz = (rc + cc) > 0
        rc, cc = rc[nz], cc[nz]
    if len(rc) < 2:
        return 0.0, 0, 1.0
    tot = rc + cc
    e_r, e_c = tot * n_r / (n_r + n_c), tot * n_c / (n_r + n_c)
    stat = float(np.sum((rc - e_r) ** 2 / e_r) + np.sum((cc - e_c) ** 2 / e_c))
    dof = len(rc) - 1
    return stat, dof, float(chdtrc(dof, stat))


def category_counts(ref: list[str], cur: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Counts over the reference's categories, plus one cell for categories the reference never saw."""
    rc, cc = Counter(ref), Counter(cur)
    cats = sorted(rc)
    unseen = sum(v for k, v in cc.items() if k not in rc)
    r = np.array([rc[k] for k in cats] + [0])
    c = np.array([cc.get(k, 0) for k in cats] + [unseen])
    return cats + ["(unseen in reference)"], r, c


# ------------------------------------------------------------------------------------ generic builders


def numeric_results(name: str, kind: str, ref: np.ndarray, cur: np.ndarray, ctx: Context) -> list[TestResult]:
    """PSI (threshold, paired with KS) and KS (p-value) for one numeric series."""
    if len(ref) < 2 or len(cur) < 2:
        return ctx.skip(name, f"too few values (reference {len(ref)}, current {len(cur)})")
    th = ctx.cfg.thresholds
    edges = quantile_edges(ref, th.psi_bins)
    value, parts = psi_from_counts(binned_counts(ref, edges), binned_counts(cur, edges))
    d, p = ks_two_sample(ref, cur)
    bounds = [-np.inf, *edges.tolist(), np.inf]
    worst = [{"bin": [bounds[i], bounds[i + 1]], "contribution": round(float(parts[i]), 5)}
             for i in np.argsort(-parts)[:3] if parts[i] > 0]
    mr, mc = float(np.mean(ref)), float(np.mean(cur))
    return [
        TestResult(f"psi:{name}", kind, value, threshold=th.psi, pair=f"ks:{name}", n_reference=len(ref),
                   n_current=len(cur), detail=f"{len(edges) + 1} bins fixed on the reference", examples=worst),
        TestResult(f"ks:{name}", kind, d, p_value=p, n_reference=len(ref), n_current=len(cur),
                   detail=f"mean {mr:.4g} -> {mc:.4g}"),
    ]


def categorical_results(name: str, kind: str, ref: list[str], cur: list[str], ctx: Context) -> list[TestResult]:
    """PSI over categories (threshold, paired with chi-square) and the chi-square test of homogeneity."""
    if not ref or not cur:
        return ctx.skip(name, f"no values (reference {len(ref)}, current {len(cur)})")
    cats, r, c = category_counts(ref, cur)
    value, parts = psi_from_counts(r, c)
    stat, dof, p = chi2_two_sample(r, c)
    rs, cs = r / r.sum(), c / c.sum()
    top = [{"value": cats[i], "reference_share": round(float(rs[i]), 4), "current_share": round(float(cs[i]), 4)}
           for i in np.argsort(-parts)[:5] if parts[i] > 0]
    res = [TestResult(f"psi:{name}", kind, value, threshold=ctx.cfg.thresholds.psi, pair=f"chi2:{name}",
                      n_reference=len(ref), n_current=len(cur), detail=f"{len(cats)} categories", examples=top)]
    if dof == 0:
        ctx.skip(f"chi2:{name}", "fewer than two categories with enough counts for a chi-square test")
        res[0].pair = None
        res[0].status = "ok"
        res[0].detail += " (no significance test possible: reported only)"
    else:
        res.append(TestResult(f"chi2:{name}", kind, stat, p_value=p, n_reference=len(ref), n_current=len(cur),
                              detail=f"dof {dof}"))
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
            ref = np.array([r.numeric[j] for r in reference.records if r.numeric[j] is not None], float)
            cur = np.array([r.numeric[j] for r in current.records if r.numeric[j] is not None], float)
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
            ref = [r.categorical[j] or "(missing)" for r in reference.records]
            cur = [r.categorical[j] or "(missing)" for r in current.records]
            out += categorical_results(col, "input", ref, cur, ctx)
        return out


@register_test("text_length")
class TextLength:
    """Input length in characters: PSI and KS (longer or shorter messages often precede other drift)."""

    def run(self, reference: Window, current: Window, ctx: Context) -> list[TestResult]:
        ref = np.array([len(r.text) for r in reference.records], float)
        cur = np.array([len(r.text) for r in current.records], float)
        return numeric_results("text_length", "input", ref, cur, ctx)


@register_test("output_label")
class OutputLabels:
    """The predicted-label distribution (unscored answers excluded; their rate is its own test)."""

    def run(self, reference: Window, current: Window, ctx: Context) -> list[TestResult]:
        ref = [p for p in ctx.predicted(reference) if p is not None]
        cur = [p for p in ctx.predicted(current) if p is not None]
        if not ref or not cur:
            return ctx.skip("chi2:output_label", "no parsed outputs in one of the windows")
        res = categorical_results("output_label", "output", ref, cur, ctx)
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
        return categorical_results("label_distribution", "output", ref, cur, ctx)


@register_test("confidence")
class Confidence:
    """The model's confidence (or exp(logprob)) for its answers: PSI and KS."""

    def run(self, reference: Window, current: Window, ctx: Context) -> list[TestResult]:
        ref = np.array([r.confidence for r in reference.records if r.confidence is not None], float)
        cur = np.array([r.confidence for r in current.records if r.confidence is not None], float)
        if len(ref) < 10 or len(cur) < 10:
            return ctx.skip("ks:confidence", "no confidence or logprob column (or too few values)")
        return numeric_results("confidence", "output", ref, cur, ctx)


def two_proportion_p(x1: int, n1: int, x2: int, n2: int, alternative: str = "two-sided") -> float:
    """Pooled two-proportion z-test p-value; ``alternative='greater'`` tests p2 > p1, 'less' tests p2 < p1."""
    from statistics import NormalDist

    p = (x1 + x2) / (n1 + n2)
    se = (p * (1 - p) * (1 / n1 + 1 / n2)) ** 0.5
    if se == 0:
        return 1.0
    z = (x2 / n2 - x1 / n1) / se
    nd = NormalDist()
    if alternative == "greater":
        return 1 - nd.cdf(z)
    if alternative == "less":
        return nd.cdf(z)
    return 2 * (1 - nd.cdf(abs(z)))


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
                           examples=ex)]

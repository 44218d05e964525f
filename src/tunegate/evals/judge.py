"""LLM-as-judge: a scorer that asks a grader model whether an output meets a rubric.

Why it is built this way:
- The verdict format is fixed and parsed strictly (``VERDICT: PASS|FAIL`` or ``SCORE: 1-5``); an answer that
  names no verdict, or two, is *unscored* with a reason — never a silent fail, which would look like a bad output.
- Calls go through the response cache keyed by the repeat index (``epoch``), so the criterion gate's test-retest
  re-runs are real re-runs, and an interrupted run resumes without repeating paid calls.
- Usage is recorded under the role ``judge``: judge spend is the evaluation tax, and it is shown apart from the
  subject model's.
- A model grading its own answers is biased towards them, so the subject model is refused as its own judge
  unless the spec says ``allow_self_judge: true``; the artifact then carries a warning.

Spec entry::

    - type: llm_judge
      model: openai:gpt-4o-mini      # the grader (default: models.default, which needs allow_self_judge)
      rubric: "The answer names the intent a support lead would route this message to."   # or rubric_file
      scale: pass_fail               # or "1-5" (pass_at: 4 by default)
      repeats: 3                     # re-runs for the test-retest check
      temperature: 0.0               # default: models.params.temperature
      reference: true                # show the gold answer to the judge
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from tunegate.data.examples import Example
from tunegate.errors import SpecError
from tunegate.evals.scoring_base import ItemScore, Scorer, ScorerContext, register_scorer
from tunegate.models.base import GenerationRequest

SCALES = ("pass_fail", "1-5")


class JudgeOptions(BaseModel):
    """The options of an ``llm_judge`` entry (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(None, description="The grader's model id (default: models.default, which needs "
                              "allow_self_judge).")
    rubric: str | None = Field(None, description="What makes an output good (or rubric_file).")
    rubric_file: str | None = Field(None, description="A file holding the rubric, relative to the spec.")
    scale: str = Field("pass_fail", description="pass_fail or 1-5.")
    pass_at: StrictInt | StrictFloat = Field(4, description="On the 1-5 scale, the score that passes, in (1, 5].")
    repeats: StrictInt = Field(3, ge=1, description="Re-runs for the criterion gate's test-retest check.")
    temperature: StrictInt | StrictFloat | None = Field(None, ge=0, description="Default: "
                                                        "models.params.temperature.")
    max_tokens: StrictInt = Field(16, ge=1)
    reference: StrictBool = Field(True, description="Show the gold answer to the judge.")
    allow_self_judge: StrictBool = Field(False, description="Let the subject model grade its own answers "
                                         "(a warning in the artifact).")



_VERDICT = re.compile(r"verdict\s*[:=\-]?\s*[*\"'`]*\s*(pass|fail)\b", re.IGNORECASE)
_WORD = re.compile(r"\b(pass|fail)(?:ed|es|ing)?\b", re.IGNORECASE)
_SCORE = re.compile(r"score\s*[:=\-]?\s*[*\"'`]*\s*([1-5])(?:\s*/\s*5)?\b", re.IGNORECASE)
_DIGIT = re.compile(r"(?<![\d.])([1-5])(?![\d.])")


def parse_verdict(text: str, scale: str) -> int | None:
    """The verdict in a judge's answer: 1/0 for pass_fail, 1..5 for the 1-5 scale; None when absent or
    ambiguous (several different verdicts and no ``VERDICT:``/``SCORE:`` line to settle it)."""
    text = text or ""
    if scale == "pass_fail":
        marked = _VERDICT.findall(text)
        if marked:
            return int(marked[-1].lower() == "pass")
        words = {w.lower() for w in _WORD.findall(text)}
        return int(words == {"pass"}) if len(words) == 1 else None
    marked = _SCORE.findall(text)
    if marked:
        return int(marked[-1])
    digits = set(_DIGIT.findall(text))
    return int(digits.pop()) if len(digits) == 1 else None


@register_scorer("llm_judge")
class LLMJudge(Scorer):
    """Grades an output against a rubric with a grader model (role ``judge``); see the module docstring."""

    stochastic = True
    Options = JudgeOptions

    def __init__(self, options: dict[str, Any], ctx: ScorerContext, key: str) -> None:
        super().__init__(options, ctx, key)
        spec, o = ctx.spec, self.opts
        self.scale = o.scale.strip().lower().replace(" ", "")
        if self.scale in ("1to5", "1..5", "likert"):
            self.scale = "1-5"
        if self.scale not in SCALES:
            raise self.error(f"the rubric's scale '{o.scale}' cannot be parsed: use pass_fail or 1-5", "scale")
        rubric = o.rubric
        if o.rubric_file:
            if rubric:
                raise self.error("give rubric or rubric_file, not both")
            path = spec.resolve(o.rubric_file)
            if not path.exists():
                raise SpecError("rubric file not found", file=path, field=f"{key}.rubric_file")
            rubric = path.read_text(encoding="utf-8")
        if not isinstance(rubric, str) or not rubric.strip():
            raise self.error("llm_judge needs a rubric: what makes an output good", "rubric")
        self.rubric = rubric.strip()
        self.binary = self.scale == "pass_fail"
        if self.scale == "1-5":
            if not 1 < o.pass_at <= 5:
                raise self.error("pass_at must be a score in (1, 5]", "pass_at")
            self.accept_at = (float(o.pass_at) - 1.0) / 4.0
        else:
            self.accept_at = 0.5
        from tunegate.models.registry import check_model_id

        self.model = o.model or spec.models.default
        check_model_id(self.model, field=f"{key}.model", source=spec.source)  # before any call, not after
        self.repeats = o.repeats
        self.reference = o.reference
        temp = o.temperature if o.temperature is not None else spec.models.params.get("temperature", 0.0)
        self.params = {"temperature": float(temp or 0.0), "max_tokens": o.max_tokens, "seed": spec.seed}
        self.warnings: list[str] = []
        subject = ctx.subject_model or spec.models.default
        if self.model == subject:
            if not o.allow_self_judge:
                raise self.error(f"the judge model '{self.model}' is the subject model: a model grading its own "
                                 "answers is biased; set model: to another model, or allow_self_judge: true",
                                 "model")
            self.warnings.append(f"llm_judge ({key}) uses the subject model '{self.model}' as its own judge "
                                 "(allow_self_judge: true): expect it to favour its own answers")
        self._backend: Any = None
        self._own: list[Any] = []

    # ------------------------------------------------------------------------------------------ prompting
    def messages(self, output: str, example: Example) -> tuple[dict[str, str], ...]:
        spec = self.ctx.spec
        task = spec.task.instruction or f"a {spec.task.kind} task"
        fmt = ("Reply with one line: VERDICT: PASS if the answer meets the rubric, VERDICT: FAIL if not."
               if self.scale == "pass_fail" else
               "Reply with one line: SCORE: N, where N is 1 (fails the rubric) to 5 (fully meets it).")
        parts = [f"Task given to the assistant:\n{task}", f"Rubric:\n{self.rubric}",
                 f"Input:\n{example.input_text()}"]
        if spec.task.kind == "classification" and spec.task.labels:
            parts.append("Allowed answers: " + ", ".join(spec.task.label_names))
        if self.reference and example.gold is not None:
            gold = example.gold if isinstance(example.gold, str) else str(example.gold)
            parts.append(f"Reference answer:\n{gold}")
        parts.append(f"Answer to grade:\n{output if output else '(empty)'}")
        parts.append(fmt)
        system = "You are a strict grader. You judge an assistant's answer against a rubric."
        return ({"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)})

    # ------------------------------------------------------------------------------------------- scoring
    def _resources(self) -> tuple[Any, Any, Any]:
        ctx = self.ctx
        if self._backend is None:
            if ctx.backend_factory is not None:
                self._backend = ctx.backend_factory(self.model)
            else:
                from tunegate.models.registry import create_backend

                self._backend = create_backend(self.model, ctx.spec.models)
                self._own.append(self._backend)
        if ctx.cache is None:
            from tunegate.models.cache import ResponseCache

            ctx.cache = ResponseCache()
            self._own.append(ctx.cache)
        if ctx.usage is None:
            from tunegate.models.usage import UsageTracker

            ctx.usage = UsageTracker()
        return self._backend, ctx.cache, ctx.usage

    def score(self, output: str, example: Example) -> ItemScore:
        return self.score_many([output], [example])[0]

    def score_many(self, outputs: list[str], examples: list[Example], *, epoch: int = 0) -> list[ItemScore]:
        from tunegate.models.streams import generation_stream
        from tunegate.models.registry import price_for

        backend, cache, usage = self._resources()
        price = price_for(self.model, self.ctx.spec.models)
        reqs = [GenerationRequest(self.messages(o, e), dict(self.params), epoch) for o, e in zip(outputs, examples)]
        out: list[ItemScore | None] = [None] * len(reqs)
        for i, gen in generation_stream(backend, cache, backend.cache_identity(), reqs):
            if self.ctx.on_scored is not None:
                self.ctx.on_scored(1)
            usage.record(role="judge", model=self.model, input_tokens=gen.input_tokens,
                         output_tokens=gen.output_tokens, latency_s=gen.latency_s, price=price, cached=gen.cached,
                         error=not gen.ok)
            if not gen.ok:
                out[i] = ItemScore(None, None, f"judge call failed: {str(gen.error)[:120]}")
                continue
            verdict = parse_verdict(gen.text, self.scale)
            if verdict is None:
                out[i] = ItemScore(None, gen.text[:200], "no parseable verdict in the judge's answer")
            elif self.scale == "pass_fail":
                out[i] = ItemScore(float(verdict), verdict)
            else:
                out[i] = ItemScore((verdict - 1) / 4.0, verdict)
        return [s if s is not None else ItemScore(None, None, "no answer from the judge") for s in out]

    def close(self) -> None:
        for thing in self._own:
            thing.close()
            if thing is self.ctx.cache:
                self.ctx.cache = None
        self._own.clear()
        self._backend = None

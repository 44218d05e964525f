"""Which answers the suite will ever score: free generated text, or only a label (label-likelihood scoring).

Why the criterion gate asks: a known-bad output is evidence only if the answer method can produce it. Label
likelihood picks one of the task's labels, so it can never answer with a copy of the input, a truncated or
empty string or broken JSON; counting those against a scorer measures a failure that cannot happen. Generated
text can be anything, so every negative type applies.

``check_eval.answer_method`` sets it; ``auto`` resolves it the way the sprint and ``tunegate eval`` would:
label likelihood only when every answer the suite will score comes from it — a classification task, every
subject model able to score labels, ``sprint.method`` not ``generate``, and no sprint stack that needs
generated text. Anything else, including a model whose capabilities cannot be read, resolves to ``generate``
(every negative applies: the conservative side).
"""

from __future__ import annotations

from typing import Any

from tunegate.spec import Spec

GENERATE, LIKELIHOOD = "generate", "label_likelihood"
# Sprint strategies that leave the answer to label-likelihood scoring (tests/test_answer_method.py checks this
# against the sprint's registry, so a new strategy cannot silently slip through; unknown names count as
# generating).
LIKELIHOOD_SAFE_STRATEGIES = frozenset({"zero_shot", "few_shot_random", "few_shot_knn", "label_likelihood"})


def _stack_names(entry: Any) -> list[str]:
    items = entry if isinstance(entry, list) else [entry]
    return [str(e.get("type") if isinstance(e, dict) else e) for e in items]


def _can_score_labels(model_id: str, spec: Spec) -> bool | None:
    """The backend's declared capability; None when the backend cannot be built (unknown scheme, missing
    model directory). Backends load weights lazily, so building one to read its capabilities is cheap."""
    from tunegate.errors import TunegateError
    from tunegate.models.base import LABEL_LOGPROBS
    from tunegate.models.registry import create_backend

    try:
        backend = create_backend(model_id, spec.models)
    except (TunegateError, OSError, ValueError):
        return None
    try:
        return LABEL_LOGPROBS in getattr(backend, "capabilities", frozenset())
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()


def resolve_answer_method(spec: Spec, *, capability: Any = None) -> tuple[str, str]:
    """(method, why): ``generate`` or ``label_likelihood``. ``capability(model_id, spec) -> bool | None``
    replaces the backend lookup (tests)."""
    chosen = spec.check_eval.answer_method
    if chosen != "auto":
        if chosen == LIKELIHOOD and spec.task.kind != "classification":
            from tunegate.errors import SpecError

            raise SpecError("label_likelihood answers only classification tasks", file=spec.source,
                            field="check_eval.answer_method")
        return chosen, "check_eval.answer_method"
    if spec.task.kind != "classification":
        return GENERATE, f"a {spec.task.kind} task is answered with generated text"
    sprint = spec.sprint
    if sprint.method == GENERATE:
        return GENERATE, "sprint.method is generate"
    if sprint.strategies is not None and sprint.method != LIKELIHOOD:
        for i, entry in enumerate(sprint.strategies):
            names = _stack_names(entry)
            if any(n not in LIKELIHOOD_SAFE_STRATEGIES for n in names):
                gen = next(n for n in names if n not in LIKELIHOOD_SAFE_STRATEGIES)
                return GENERATE, f"sprint.strategies.{i} ({gen}) answers with generated text"
    check = capability or _can_score_labels
    for m in dict.fromkeys([spec.models.default, *sprint.models]):
        can = check(m, spec)
        if can is None:
            return GENERATE, f"the capabilities of {m} could not be read"
        if not can:
            return GENERATE, f"{m} cannot score labels (no label_logprobs), so it generates its answers"
    return LIKELIHOOD, ("auto: a classification task whose models score each label's likelihood "
                        "(sprint.method auto, no strategy that needs generated text)")

"""Reading answers out of free text: a label, a JSON object, a number.

Each parser returns ``None`` when it cannot find an unambiguous answer. The caller then marks the item
*unscored* — counted and reported — rather than guessing, because a parser that guesses turns formatting
problems into accuracy numbers nobody can interpret.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

_ANSWER_MARKERS = re.compile(
    r"(?:final answer|answer|label|intent|category|class|prediction)\s*(?:is)?\s*[:=\-]\s*",
    re.IGNORECASE,
)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?")


_SEPARATORS = re.compile(r"[\s_\-/]+")
_PUNCTUATION = re.compile(r"[^\w ]")


def _norm(s: str) -> str:
    """Case-, separator- and punctuation-insensitive form: 'Refund Request.' == 'refund_request'."""
    return _PUNCTUATION.sub("", _SEPARATORS.sub(" ", s.casefold().strip())).strip()


@lru_cache(maxsize=64)
def _label_index(labels: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """Normalised form -> label, and each label's own text -> what the normalised lookup gives for it.

    Built once per label set (a run parses every answer against the same labels; normalising all of them per
    answer was most of a warm run's parsing time). The second map answers the usual reply, a bare label, with
    one dict lookup and the same result as the normalised path."""
    by_norm = {_norm(lab): lab for lab in labels}
    return by_norm, {lab: by_norm[_norm(lab)] for lab in labels}


def parse_label(text: str, labels: list[str], *, strict: bool = False) -> str | None:
    """The one label a free-text answer names, or None when it names none or several.

    Order of evidence: the whole answer is a label; a JSON object with a label-like key; the text after the
    last 'answer:' / 'label:' marker; otherwise exactly one distinct label mentioned anywhere.

    ``strict``: the answer must *be* a label — the whole text, the JSON object's label field, or the whole line
    after the last marker — never a label merely mentioned. Intent messages often name their intent ("what is
    my routing number" for ``routing``), so a lenient read accepts the user's message parroted back as correct.
    """
    if not text or not text.strip():
        return None
    by_norm, exact = _label_index(tuple(labels))
    if text in exact:
        return exact[text]
    whole = _norm(text)
    if whole in by_norm:
        return by_norm[whole]

    obj = parse_json_object(text)
    if isinstance(obj, dict):
        for key in ("label", "intent", "category", "class", "answer", "prediction"):
            if isinstance(obj.get(key), str) and _norm(obj[key]) in by_norm:
                return by_norm[_norm(obj[key])]

    markers = list(_ANSWER_MARKERS.finditer(text))
    if markers:
        tail = text[markers[-1].end() :]
        first_line = tail.strip().splitlines()[0] if tail.strip() else ""
        if strict:
            return by_norm.get(_norm(first_line))
        found = _mentioned(first_line, by_norm)
        if len(found) == 1:
            return found[0]
    if strict:
        return None

    found = _mentioned(text, by_norm)
    return found[0] if len(found) == 1 else None


def _mentioned(text: str, by_norm: dict[str, str]) -> list[str]:
    padded = f" {_norm(text)} "
    hits = [lab for n, lab in by_norm.items() if n and f" {n} " in padded]
    # a label that is part of a longer mentioned label ("refund" inside "refund request") does not count twice
    return [h for h in hits if not any(h != o and _norm(h) in _norm(o) for o in hits)]


def parse_json_object(text: str) -> Any | None:
    """The JSON value in an answer: the whole text, a fenced ```json block, or the first balanced {...}."""
    if text is None:
        return None
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    start = text.find("{")
    if start >= 0:
        depth, in_str, esc = 0, False, False
        for i in range(start, len(text)):
            ch = text[i]
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    candidates.append(text[start : i + 1])
                    break
    for c in candidates:
        try:
            return json.loads(c)
        except (json.JSONDecodeError, ValueError):
            continue
    return None


def parse_number(text: str) -> float | None:
    """The first number in a text ('about 1,234.5 units' -> 1234.5), or None."""
    if text is None:
        return None
    for m in _NUMBER.finditer(str(text)):
        s = m.group(0)
        if any(ch.isdigit() for ch in s):
            try:
                return float(s.replace(",", ""))
            except ValueError:
                continue
    return None


def normalize_text(s: str) -> str:
    """SQuAD-style normalisation for 'normalized match': case, punctuation, articles, whitespace."""
    s = str(s).casefold()
    s = re.sub(r"[^\w\s]", " ", s)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())

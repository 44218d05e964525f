"""The backend protocol: one small interface every model source implements.

A backend turns requests into generations. What else it can do is *declared* in ``capabilities`` rather than
discovered by trial, so a strategy that needs label log-likelihoods or embeddings can fail early with a clear
error (``require_capability``) instead of half-way through a paid run.

``generate`` yields results in completion order, as ``(index, Generation)`` pairs: the runner persists each one
before the next is consumed, which is what makes interrupted runs resumable without repeating calls.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tunegate.errors import CapabilityError

GENERATE = "generate"
LABEL_LOGPROBS = "label_logprobs"
EMBED = "embed"

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": "..."}


@dataclass(frozen=True)
class GenerationRequest:
    """One chat completion to make.

    ``epoch`` is the sample index: repeated samples of the same prompt (self-consistency, test-retest of a
    judge) differ only by it, and it is part of the cache key so they never collapse onto one entry.
    ``params`` holds sampling parameters (temperature, max_tokens, top_p, seed, stop).
    """

    messages: tuple[Message, ...]
    params: dict[str, Any] = field(default_factory=dict)
    epoch: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", tuple(dict(m) for m in self.messages))


@dataclass
class Generation:
    """What came back for one request. ``error`` is set (and ``text`` empty) when the call finally failed.

    ``latency_s`` is the successful (or last) attempt; ``total_latency_s`` includes failed attempts and backoff
    waits (0.0 where a backend does not track it), and ``attempts`` counts HTTP tries, so retry cost is visible.
    """

    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None
    error: str | None = None
    cached: bool = False
    attempts: int = 1
    total_latency_s: float = 0.0

    def __post_init__(self) -> None:
        # Every backend's answer and error text pass here before anything stores or prints them (a server or
        # proxy may echo the request headers): known secrets are masked (tunegate.redact).
        from tunegate.redact import redact

        if self.error:
            self.error = redact(self.error)
        if self.text:
            self.text = redact(self.text, headers=False) or ""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class LabelScores:
    """Log-likelihood of each option as the continuation of one prompt (sum over the option's tokens)."""

    logprobs: list[float]
    input_tokens: int = 0
    latency_s: float = 0.0
    cached: bool = False


@runtime_checkable
class Backend(Protocol):
    """A source of completions. Implementations: local transformers models, OpenAI-compatible HTTP servers."""

    model_id: str  # the id users write in specs and on the command line, e.g. "local:smollm2", "openai:gpt-4o"
    capabilities: frozenset[str]

    def cache_identity(self) -> dict[str, Any]:
        """What identifies this backend's answers in the response cache (kind, model, endpoint URL).

        Never includes secrets: API keys are not part of a model's identity.
        """
        ...

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        """Run every request; yield ``(index_in_requests, Generation)`` as each finishes (any order)."""
        ...

    def close(self) -> None:
        """Release connections / memory."""
        ...


class LabelScorer(Protocol):
    """Optional capability ``label_logprobs``: classification by scoring each label's likelihood."""

    def label_logprobs(
        self, prompts: Sequence[tuple[Message, ...]], options: Sequence[str]
    ) -> Iterator[tuple[int, LabelScores]]:
        """For each prompt (chat messages), the log-likelihood of each option as the assistant's reply."""
        ...


class Embedder(Protocol):
    """Optional capability ``embed``: dense vectors for texts (kNN few-shot, drift, probes)."""

    model_id: str

    def embed(self, texts: Sequence[str]) -> Any:  # numpy.ndarray of shape (len(texts), dim), L2-normalised
        ...


def require_capability(backend: Any, capability: str, *, needed_by: str) -> None:
    """Fail early, naming who needed what, when a backend lacks a capability."""
    caps = getattr(backend, "capabilities", frozenset())
    if capability not in caps:
        have = ", ".join(sorted(caps)) or "none"
        raise CapabilityError(
            f"{needed_by} needs the '{capability}' capability, which backend "
            f"'{getattr(backend, 'model_id', backend)}' does not declare (it has: {have})"
        )

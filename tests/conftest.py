"""Shared pytest fixtures. Keep this small: each fixture says what it provides."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.openai_stub import OpenAIStub


@pytest.fixture
def openai_stub() -> Iterator[OpenAIStub]:
    """A fresh OpenAI-compatible stub server on 127.0.0.1 (ephemeral port), stopped after the test.

    Use ``openai_stub.base_url`` as a backend's base_url; configure faults with ``openai_stub.set_script(...)``,
    ``openai_stub.api_key = ...``, ``openai_stub.delay_s = ...``; read counters with ``openai_stub.stats()``.
    """
    with OpenAIStub() as stub:
        yield stub

"""From a model id (``local:smollm2``, ``openai:gpt-4o-mini``) to a backend.

A model id is ``scheme:name``. Each scheme is registered once with a factory; a new kind of backend plugs in with
``register_backend`` rather than by editing an if/else here (user backends: docs/plugins.md). Per-id settings
(endpoint, key variable, limits, price) come from the spec's ``models.backends`` section; settings only one
backend understands go under ``models.backends.<id>.options``, checked against the ``options`` model the scheme
registered, and reach the factory as ``settings.options`` (the validated model).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from tunegate.errors import BackendError, SpecError
from tunegate.models.usage import Price
from tunegate.plugins import NoOptions, load_entry_points, record, validate_options
from tunegate.spec import BackendSpec, ModelsSpec

BackendFactory = Callable[[str, str, BackendSpec], Any]  # (model_id, name after the scheme, settings)

_BACKENDS: dict[str, BackendFactory] = {}
_EMBEDDERS: dict[str, BackendFactory] = {}
_OPTIONS: dict[tuple[str, str], type[BaseModel]] = {}  # (kind, scheme) -> options model


def register_backend(scheme: str, *, options: type[BaseModel] | None = None
                     ) -> Callable[[BackendFactory], BackendFactory]:
    """``@register_backend("scheme", options=MyOptions) def factory(model_id, name, settings): ...``"""

    def deco(factory: BackendFactory) -> BackendFactory:
        _BACKENDS[scheme] = factory
        _OPTIONS[("backend", scheme)] = options or NoOptions
        record("backend", scheme, options)
        return factory

    return deco


def register_embedder(scheme: str, *, options: type[BaseModel] | None = None
                      ) -> Callable[[BackendFactory], BackendFactory]:
    def deco(factory: BackendFactory) -> BackendFactory:
        _EMBEDDERS[scheme] = factory
        _OPTIONS[("embedder", scheme)] = options or NoOptions
        record("embedder", scheme, options)
        return factory

    return deco


def _known(table: dict[str, BackendFactory], scheme: str) -> bool:
    """Whether a scheme is registered, loading installed plug-ins (entry points) before saying no."""
    if scheme not in table:
        load_entry_points()
    return scheme in table


def split_model_id(model_id: str) -> tuple[str, str]:
    scheme, sep, name = model_id.partition(":")
    if not sep or not name:
        known = ", ".join(f"{s}:…" for s in sorted(_BACKENDS))
        raise BackendError(f"model id '{model_id}' must look like scheme:name (known schemes: {known})")
    return scheme, name


def check_model_id(model_id: Any, *, field: str, source: Any = None, embedding: bool = False) -> None:
    """Refuse a model id whose form or scheme is unknown, before any call: a SpecError naming the key."""
    table, what = (_EMBEDDERS, "embedding model") if embedding else (_BACKENDS, "model")
    if not isinstance(model_id, str):
        raise SpecError(f"a model id is text like scheme:name, got {model_id!r}", file=source, field=field)
    scheme, sep, name = model_id.partition(":")
    if not sep or not scheme or not name.strip():
        raise SpecError(f"model id '{model_id}' must look like scheme:name (known schemes: "
                        f"{', '.join(sorted(table))})", file=source, field=field)
    if not _known(table, scheme):
        raise SpecError(f"unknown {what} scheme '{scheme}' in '{model_id}' (known: {', '.join(sorted(table))})",
                        file=source, field=field)


def check_models(models: ModelsSpec, model: str | None = None, *, source: Any = None,
                 line_of: Callable[[str], int | None] | None = None) -> None:
    """Every model id a spec names (default, --model, embedding, per-id settings) has a known scheme, and each
    id's ``options`` fit its backend's options model. ``line_of`` (``Spec.line_of``) adds lines to errors."""
    check_model_id(models.default, field="models.default", source=source)
    if model is not None:
        check_model_id(model, field="--model", source=source)
    check_model_id(models.embedding, field="models.embedding", source=source, embedding=True)
    for model_id in models.backends:
        check_model_id(model_id, field=f"models.backends.{model_id}", source=source)
        backend_options(model_id, models, source=source, line_of=line_of)


def backend_options(model_id: str, models: ModelsSpec | None, *, embedding: bool = False, source: Any = None,
                    line_of: Callable[[str], int | None] | None = None) -> Any:
    """The validated ``models.backends.<id>.options`` for the id's scheme (a located SpecError if one is wrong)."""
    scheme = model_id.partition(":")[0]
    kind = "embedder" if embedding else "backend"
    model = _OPTIONS.get((kind, scheme), NoOptions)
    raw = settings_for(model_id, models).options
    if isinstance(raw, BaseModel):
        return raw
    return validate_options(model, raw, what=f"{kind} '{scheme}'", key=f"models.backends.{model_id}.options",
                            source=source, line_of=line_of)


def settings_for(model_id: str, models: ModelsSpec | None) -> BackendSpec:
    if models and model_id in models.backends:
        return models.backends[model_id]
    return BackendSpec()


def price_for(model_id: str, models: ModelsSpec | None) -> Price:
    p = settings_for(model_id, models).price
    return Price(p.input_per_1m, p.output_per_1m)


def _lookup(table: dict[str, BackendFactory], model_id: str, what: str) -> tuple[BackendFactory, str]:
    scheme, name = split_model_id(model_id)
    if not _known(table, scheme):
        known = ", ".join(sorted(table)) or "none"
        raise BackendError(f"unknown {what} scheme '{scheme}' in '{model_id}' (known: {known})")
    return table[scheme], name


def create_backend(model_id: str, models: ModelsSpec | None = None) -> Any:
    """A generation backend for a model id."""
    factory, name = _lookup(_BACKENDS, model_id, "model")
    return factory(model_id, name, _with_options(model_id, models, embedding=False))


def create_embedder(model_id: str, models: ModelsSpec | None = None) -> Any:
    """An embedding backend for a model id."""
    factory, name = _lookup(_EMBEDDERS, model_id, "embedding model")
    return factory(model_id, name, _with_options(model_id, models, embedding=True))


def _with_options(model_id: str, models: ModelsSpec | None, *, embedding: bool) -> BackendSpec:
    """The id's settings with ``options`` replaced by the validated options model."""
    s = settings_for(model_id, models)
    return s.model_copy(update={"options": backend_options(model_id, models, embedding=embedding)})


# ---------------------------------------------------------------------------------------- built-in schemes


@register_backend("local")
def _local(model_id: str, name: str, s: BackendSpec) -> Any:
    from tunegate.models.local import create_local_backend

    return create_local_backend(model_id, batch_size=s.batch_size)


def _openai_kwargs(name: str, s: BackendSpec) -> dict[str, Any]:
    return dict(
        model=s.model or name,
        base_url=s.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1",
        # an explicit `api_key_env: null` means "send no key" (local vLLM / Ollama servers need none)
        api_key_env=s.api_key_env if "api_key_env" in s.model_fields_set else "OPENAI_API_KEY",
        timeout_s=s.timeout_s,
        max_concurrency=s.max_concurrency,
        max_retries=s.max_retries,
    )


@register_backend("openai")
def _openai(model_id: str, name: str, s: BackendSpec) -> Any:
    from tunegate.models.openai_compat import OpenAICompatibleBackend

    return OpenAICompatibleBackend(model_id=model_id, **_openai_kwargs(name, s))


@register_embedder("local")
def _local_embedder(model_id: str, name: str, s: BackendSpec) -> Any:
    from tunegate.models.embeddings_local import create_local_embedder

    return create_local_embedder(model_id)


@register_embedder("openai")
def _openai_embedder(model_id: str, name: str, s: BackendSpec) -> Any:
    from tunegate.models.openai_compat import OpenAICompatibleEmbedder

    return OpenAICompatibleEmbedder(model_id=model_id, **_openai_kwargs(name, s))

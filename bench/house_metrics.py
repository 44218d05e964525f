"""Issue #18's before/after counts for the structure of the code, measured from the source alone.

    .venv/bin/python bench/house_metrics.py [SRC_DIR]          # default: src/ of this checkout
    git archive <commit> src | tar -x -C /tmp/old && .venv/bin/python bench/house_metrics.py /tmp/old/src

Import circles are counted by the shared AST tool (`python3 ../shared/tools/importgraph.py src tunegate --text`, which
tests/test_architecture.py mirrors). Prints: `.get(` calls in the verdict and the report (dicts taken apart by key), registries (functions named register_*),
progress callback types defined (`ProgressFn`/`Progress` assignments or classes), status vocabularies (modules
that define their own status words as constants), and the longest module.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def _modules(src: Path) -> dict[str, Path]:
    pkg = src / "tunegate"
    return {".".join(p.relative_to(src).with_suffix("").parts).removesuffix(".__init__"): p
            for p in pkg.rglob("*.py")}


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "src"
    mods = _modules(src)
    texts = {m: p.read_text(encoding="utf-8") for m, p in mods.items()}
    gets = {area: sum(t.count(".get(") for m, t in texts.items() if m.startswith(f"tunegate.{area}"))
            for area in ("verdict", "report")}
    registries = sorted({n for t in texts.values() for n in re.findall(r"^def (register_\w+)\(", t, re.M)})
    progress = [m for m, t in texts.items()
                if re.search(r"^(ProgressFn|Progress)\s*=|^class (ProgressFn|Progress)\b", t, re.M)]
    status_words = [m for m, t in texts.items()
                    if re.search(r'^[A-Z_, ]+=\s*"(pass|held|met|ok|alert)"', t, re.M)
                    or re.search(r"^class Status\b", t, re.M)]
    longest = max(((len(t.splitlines()), m) for m, t in texts.items()))
    print(f"modules: {len(mods)}")
    print(f".get( calls: verdict {gets['verdict']}, report {gets['report']}")
    print(f"registries (register_*): {len(registries)} {registries}")
    print(f"progress callback types defined: {len(progress)} {sorted(progress)}")
    print(f"modules defining status words: {len(status_words)} {sorted(status_words)}")
    print(f"longest module: {longest[1]} ({longest[0]} lines)")


if __name__ == "__main__":
    main()

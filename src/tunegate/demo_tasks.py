"""The example tasks `tunegate demo --task classification|extraction|generation` runs, offline.

Why a module of its own: the CLI only has to name a task; what "offline" means for each kind lives here. The
classification and extraction examples run as written on the embedded models. The generation example's primary
scorer is an LLM judge on a hosted model, and SmolLM2-135M cannot judge replies (and may not grade its own), so
the offline demo makes the model-free reference scorer (``rouge_l``) the metric and says so: the criterion gate
then fails it — overlap accepts a reply with an unsafe promise added — and the verdict is FIX_EVAL_FIRST, which
is the honest answer when no capable judge is at hand. ``small=True`` trims the sprint and the gate so a 2-core
CPU finishes in minutes; the trimmed intervals are wider, and the artifacts record the sizes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tunegate.errors import TunegateError
from tunegate.spec import Spec, parse_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TASKS = {"classification": "support-triage", "extraction": "extraction", "generation": "generation"}
OFFLINE_NOTE = ("offline demo: SmolLM2-135M cannot judge replies, so rouge_l (reference overlap) is the metric here; "
                "with a capable judge the metric is llm_judge (examples/generation/tunegate.yaml)")


def example_dir(task: str, root: Path | None = None) -> Path:
    if task not in TASKS:
        raise TunegateError(f"unknown demo task '{task}' (tasks: {', '.join(TASKS)})")
    bases = [root] if root else [Path.cwd() / "examples", EXAMPLES]  # a checkout, as `tunegate demo` looks
    for base in bases:
        if (base / TASKS[task] / "tunegate.yaml").exists():
            return base / TASKS[task]
    raise TunegateError(f"the example for '{task}' was not found: examples/{TASKS[task]}/tunegate.yaml "
                        "(run from the tunegate checkout)")


def demo_raw(task: str, *, small: bool = True, root: Path | None = None) -> dict[str, Any]:
    """The example spec as a mapping, adapted to run offline (and trimmed when ``small``)."""
    raw = yaml.safe_load((example_dir(task, root) / "tunegate.yaml").read_text(encoding="utf-8"))
    if task == "generation":
        raw["eval"]["metric"] = "rouge_l"
        raw["eval"]["scorers"] = [s for s in raw["eval"]["scorers"] if s.get("type") != "llm_judge"]
        raw["task"]["name"] = f"{raw['task']['name']}-offline"
    if small and task != "classification":
        sprint = raw.setdefault("sprint", {})
        sprint["strategies"] = ([[{"type": "zero_shot"}, {"type": "json_output", "repairs": 1}]]
                                if task == "extraction" else [{"type": "zero_shot"}])
        sprint["racing"] = {"min_items": 4, "finalists": 1, "dev_items": 6}
        sprint["test_items"] = 10
        raw.setdefault("check_eval", {})["items"] = 30
    return raw


def demo_spec(task: str, *, small: bool = True, root: Path | None = None) -> Spec:
    """The spec `tunegate demo --task TASK` runs; relative paths resolve in the example's directory."""
    d = example_dir(task, root)
    return parse_spec(yaml.safe_dump(demo_raw(task, small=small, root=root), sort_keys=False),
                      source=d / f"demo-{task}.yaml")

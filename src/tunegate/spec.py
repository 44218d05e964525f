"""The task spec, ``tunegate.yaml``, as pydantic models.

The spec is validated once, at the edge: everything downstream receives typed objects and never re-checks.
Validation errors name the file, the line and the dotted key (``data.split.ratios``), because a user fixing a
YAML file needs the place, not a stack trace. Each stage's own section (``check_eval``, ``sprint``, ``costs``,
``monitor``) is a model defined beside that stage and imported here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator, model_validator

from tunegate.config.costs import CostInputs
from tunegate.errors import SpecError
from tunegate.config.check_eval import CheckEvalSpec
from tunegate.config.monitor import MonitorSpec
from tunegate.config.sprint import SprintSpec
from tunegate.plugins import key_lines as _key_lines
from tunegate.plugins import load_entry_points, load_plugins

SCHEMA_VERSION = 1
MAX_RESAMPLES = 100_000  # bootstrap resamples: beyond this the interval does not move, the run just dies later
MAX_YAML_NODES = 100_000  # after alias expansion: a spec is a page of settings, not a billion-laughs bomb
MAX_FAILED_SHARE_DEFAULT = 0.05
TaskKind = Literal["classification", "extraction", "generation"]
SplitName = Literal["train", "dev", "test"]


class _Strict(BaseModel):
    """Unknown keys are errors: a typo such as ``metirc`` must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class LabelSpec(_Strict):
    name: str = Field(min_length=1, description="The label as it appears in the data and in model answers.")
    description: str | None = Field(None, description="What the label means; shown to the model in prompts.")


class TaskSpec(_Strict):
    name: str = Field(min_length=1, description="Short task name, used in reports and run directories.")
    kind: TaskKind = Field(description="classification | extraction | generation")
    instruction: str | None = Field(
        None, description="The task instruction given to the model (the user's own wording)."
    )
    labels: list[LabelSpec] = Field(default_factory=list, description="Label set (classification).")
    output_schema: dict[str, Any] | None = Field(
        None, description="JSON Schema of the expected output (extraction)."
    )

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_from_strings(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"name": x} if isinstance(x, str) else x for x in v]
        return v

    @model_validator(mode="after")
    def _kind_requirements(self) -> TaskSpec:
        if self.kind == "classification":
            names = [lab.name for lab in self.labels]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate labels: {', '.join(dupes)}")
        if self.kind == "extraction" and not self.output_schema:
            raise ValueError("an extraction task needs task.output_schema (a JSON Schema)")
        if self.output_schema is not None:
            from jsonschema.validators import validator_for

            try:
                validator_for(self.output_schema).check_schema(self.output_schema)
            except Exception as exc:  # jsonschema.SchemaError
                raise ValueError(f"output_schema is not a valid JSON Schema: {getattr(exc, 'message', exc)}")
        return self

    @property
    def label_names(self) -> list[str]:
        """The label names, built once per labels list (read ~3 times per item in a run): do not mutate."""
        # kept in __dict__ beside the fields (pydantic's equality and dumps look at fields only), keyed by the list
        labels, cached = self.labels, self.__dict__.get("_label_names")
        if cached is None or cached[0] is not labels or cached[1] != len(labels):
            cached = self.__dict__["_label_names"] = (labels, len(labels), [lab.name for lab in labels])
        return cached[2]


class FieldMap(_Strict):
    """Which column of the data file plays which role."""

    input: str = Field("input", description="Column with the model input text (or an object for extraction).")
    label: str | None = Field(None, description="Column with the gold label (classification).")
    target: str | None = Field(None, description="Column with the gold output (extraction / generation).")
    id: str | None = Field(None, description="Column with a unique item id (row number when absent).")
    split: str | None = Field(None, description="Column naming each row's split (train/dev/test).")
    slices: list[str] = Field(default_factory=list, description="Columns whose values define slices.")


class SplitRatios(_Strict):
    train: float = Field(0.6, ge=0, le=1)
    dev: float = Field(0.2, ge=0, le=1)
    test: float = Field(0.2, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitRatios:
        total = self.train + self.dev + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split ratios must sum to 1 (they sum to {total:g})")
        if self.test <= 0:
            raise ValueError("the test ratio must be > 0: reported numbers come from the test split")
        return self


class SplitSpec(_Strict):
    """Either a user split column (``data.fields.split``) or ratios with a seed; stratified by label."""

    ratios: SplitRatios = Field(default_factory=SplitRatios)
    seed: int = 0
    stratify: bool = Field(True, description="Keep each label's share equal across splits (classification).")


class AnnotationFieldMap(_Strict):
    item_id: str = "item_id"
    annotator: str = "annotator"
    label: str = "label"
    timestamp: str | None = None


class AnnotationSpec(_Strict):
    path: str
    fields: AnnotationFieldMap = Field(default_factory=AnnotationFieldMap)
    adjudications: str | None = Field(
        None, description="A filled-in adjudication queue (item_id, adjudicated_label, adjudicator): human "
        "decisions that override the aggregated label, recorded with who decided.")


class DataSpec(_Strict):
    path: str | None = Field(None, description="One examples file (JSONL, CSV or Parquet).")
    paths: dict[SplitName, str] | None = Field(None, description="One file per split instead of `path`.")
    format: Literal["auto", "jsonl", "csv", "parquet"] = "auto"
    fields: FieldMap = Field(default_factory=FieldMap)
    split: SplitSpec = Field(default_factory=SplitSpec)
    annotations: AnnotationSpec | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if (self.path is None) == (self.paths is None):
            raise ValueError("give exactly one of data.path (one file) or data.paths (one file per split)")
        if self.paths is not None and "test" not in self.paths:
            raise ValueError("data.paths needs a 'test' file: reported numbers come from the test split")
        return self


class ScorerSpec(BaseModel):
    """One scorer from the registry, with its options (e.g. ``{type: regex, pattern: ...}``)."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="Registered scorer name, e.g. label_match, exact_match, json_fields.")


class PromptSpec(_Strict):
    template: str | None = Field(None, description="Path to a prompt template file (relative to the spec).")
    inline: str | None = Field(None, description="The template text itself.")
    system: str | None = Field(None, description="Optional system message.")

    @model_validator(mode="after")
    def _not_both(self) -> PromptSpec:
        if self.template and self.inline:
            raise ValueError("give prompt.template or prompt.inline, not both")
        return self


class BootstrapSpec(_Strict):
    n_resamples: int = Field(2000, ge=100, le=MAX_RESAMPLES)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    seed: int = 0


class EvalSpec(_Strict):
    metric: str = Field("accuracy", description="Primary metric: accuracy, macro_f1, or a scorer's name.")
    target: float | None = Field(None, description="The value the product needs, a fraction in (0, 1] "
                                 "(e.g. 0.9, not 90).")
    max_failed_share: float = Field(MAX_FAILED_SHARE_DEFAULT, ge=0, le=1, description="Share of failed model "
                                    "calls above which a run exits non-zero (a run with every call failed "
                                    "always does).")
    scorers: list[ScorerSpec] = Field(default_factory=list, description="Scorers; defaults by task kind.")
    prompt: PromptSpec = Field(default_factory=PromptSpec)
    bootstrap: BootstrapSpec = Field(default_factory=BootstrapSpec)
    allow_python_scorers: StrictBool = Field(
        False, description="Allow `python` scorers that import user code. Off unless explicitly enabled (a real "
        "boolean: true or false, not \"yes\")."
    )

    @field_validator("target")
    @classmethod
    def _target_is_a_fraction(cls, v: float | None) -> float | None:
        if v is None:
            return v
        if v != v or not 0 < v <= 1:
            hint = f"; {v:g} looks like a percent: write {v / 100:g}" if 1 < v <= 100 else ""
            raise ValueError(f"target must be a fraction in (0, 1], got {v:g}{hint}")
        return v


class PriceSpec(_Strict):
    input_per_1m: float = Field(0.0, ge=0, description="Price per 1M input tokens (currency of the spec).")
    output_per_1m: float = Field(0.0, ge=0, description="Price per 1M output tokens.")


class BackendSpec(_Strict):
    """Settings for one model id. Keys stay out of the spec: name the environment variable instead."""

    base_url: str | None = None
    api_key_env: str | None = Field(None, description="NAME of the environment variable holding the key.")
    model: str | None = Field(None, description="Model name sent to the server (defaults to the id's suffix).")
    timeout_s: float = Field(60.0, gt=0)
    max_concurrency: int = Field(8, ge=1)
    max_retries: int = Field(5, ge=0)
    batch_size: int = Field(16, ge=1, description="Local models: sequences per forward pass.")
    price: PriceSpec = Field(default_factory=PriceSpec)
    options: dict[str, Any] = Field(default_factory=dict, description="Settings of the id's backend plug-in, "
                                    "checked against that backend's options model (`tunegate schema`: "
                                    "$defs.plugins.backend).")

    @field_validator("api_key_env")
    @classmethod
    def _looks_like_a_name(cls, v: str | None) -> str | None:
        if v is not None and (v.startswith("sk-") or not v.replace("_", "").isalnum()):
            raise ValueError(
                "api_key_env takes the NAME of an environment variable (e.g. OPENAI_API_KEY), not the key itself"
            )
        return v


class ModelsSpec(_Strict):
    default: str = Field("local:smollm2", description="Model id used when --model is not given.")
    params: dict[str, Any] = Field(
        default_factory=lambda: {"temperature": 0.0, "max_tokens": 32},
        description="Default sampling parameters.",
    )
    backends: dict[str, BackendSpec] = Field(
        default_factory=dict, description="Per-model-id settings: endpoint, key variable, price, limits."
    )
    embedding: str = Field("local:minilm", description="Embedding model id (kNN few-shot, drift, probes).")


class RequiredSlice(_Strict):
    """An edge case that matters in production, with the minimum number of training examples it needs."""

    column: str = Field(description="A slice column (data.fields.slices).")
    value: str = Field(description="The slice value, e.g. sarcasm.")
    min: int = Field(10, ge=1, description="Minimum count in the train split.")

    @field_validator("value", mode="before")
    @classmethod
    def _as_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float, bool)) else v


class AuditSpec(_Strict):
    """Thresholds of the data gate (`tunegate audit`). Defaults and their sources are in the README."""

    agreement_level: Literal["nominal", "ordinal", "interval", "ratio"] = "nominal"
    min_alpha: float = Field(0.667, ge=-1, le=1, description="Below this Krippendorff alpha the gate fails "
                             "(Krippendorff: 0.667 is the lowest for tentative conclusions).")
    reliable_alpha: float = Field(0.8, ge=-1, le=1, description="Alpha at or above this is reliable.")
    aggregation: Literal["dawid-skene", "majority"] = "dawid-skene"
    max_noise_rate: float = Field(0.10, ge=0, le=1, description="Highest tolerated estimated label-noise rate.")
    max_leakage: int = Field(0, ge=0, description="Items shared between train/dev and test that are tolerated.")
    max_conflict_share: float = Field(0.02, ge=0, le=1, description="Share of items in same-text/different-"
                                      "label groups tolerated.")
    near_duplicate_threshold: float = Field(0.98, gt=0, le=1, description="Embedding cosine at or above which two "
                                            "different texts are reported as near-duplicates (a warning; "
                                            "paraphrases are not leakage). 0.98: most pairs above it are "
                                            "near-copies, most below are paraphrases (docs/data-gate.md).")
    repeated_judgments: Literal["all", "latest"] = Field(
        "all", description="An annotator judging one item more than once: 'all' uses every judgment in the "
        "aggregation (Dawid-Skene 1979) and the first per annotator for agreement; 'latest' keeps only the latest "
        "by timestamp (then every repeat needs one).")
    annotator_floor: float = Field(0.7, ge=0, le=1, description="An annotator whose estimated accuracy is below "
                                   "this is flagged unreliable.")
    annotator_min_gap: float = Field(0.05, ge=0, le=1, description="An annotator this far (or more) below the "
                                     "median of the others, significantly, is flagged unreliable.")
    min_per_class: int = Field(20, ge=1, description="Minimum training examples per class.")
    required_slices: list[RequiredSlice] = Field(default_factory=list)
    noise_folds: int = Field(5, ge=2)
    use_embeddings: bool = Field(True, description="Embed texts for near-duplicates and label noise.")


class DeclaredCriterion(_Strict):
    """What a team knows about its evaluation suite without `tunegate check-eval` having run."""

    passes: bool | None = Field(None, description="The suite reliably separates good from bad outputs.")
    auc: float | None = Field(None, ge=0, le=1, description="Discrimination (ROC AUC) measured elsewhere.")
    judge_human_kappa: float | None = Field(None, ge=-1, le=1)
    note: str | None = None


class DeclaredData(_Strict):
    passes: bool | None = Field(None, description="The labeled data passed the team's own quality review.")
    alpha: float | None = Field(None, ge=-1, le=1, description="Krippendorff alpha measured in a labeling tool.")
    noise_rate: float | None = Field(None, ge=0, le=1)
    n_labeled: int | None = Field(None, ge=0)
    note: str | None = None


class DeclaredPrompting(_Strict):
    best_value: float = Field(description="The best prompt's metric on the team's test set.")
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = Field(None, ge=1, description="Test items it was measured on (without a CI, a Wilson "
                          "interval is computed from it; with neither, the gap is unknown).")
    after_sprint: StrictBool | None = Field(None, description="Measured after a real prompt-engineering sprint? "
                                            "Must be declared (true/false) for a gap to hold: a single prompt's "
                                            "shortfall does not show that prompting cannot close it.")
    note: str | None = None


class DeclaredFinetune(_Strict):
    value: float = Field(description="What a fine-tune (or a probe) reached on the same test set.")
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = Field(None, ge=1, description="Test items it was measured on (without a CI, a Wilson "
                          "interval is computed from it; with neither, the probe condition is unknown).")
    diff_ci_low: float | None = Field(None, description="Lower CI bound of (fine-tune − best prompt), paired.")
    note: str | None = None


class EvidenceSpec(_Strict):
    """Evidence a person declares where a stage cannot run here; the verdict marks it `declared`, not
    `measured`, and lowers its confidence."""

    criterion: DeclaredCriterion | None = None
    data: DeclaredData | None = None
    prompting: DeclaredPrompting | None = None
    finetune: DeclaredFinetune | None = None


class Spec(_Strict):
    """A whole ``tunegate.yaml``."""

    schema_version: int = SCHEMA_VERSION
    task: TaskSpec
    data: DataSpec | None = Field(None, description="The examples. Only a spec of declared evidence (tunegate "
                                  "assess) goes without.")
    eval: EvalSpec = Field(default_factory=EvalSpec)
    models: ModelsSpec = Field(default_factory=ModelsSpec)
    seed: int = 0
    audit: AuditSpec = Field(default_factory=AuditSpec)
    evidence: EvidenceSpec = Field(default_factory=EvidenceSpec)
    costs: CostInputs = Field(default_factory=CostInputs, description="The 18-month cost model's inputs "
                              "(docs/cost-model.md).")
    check_eval: CheckEvalSpec = Field(default_factory=CheckEvalSpec, description="Criterion-gate thresholds "
                                      "and inputs (tunegate check-eval).")
    sprint: SprintSpec = Field(default_factory=SprintSpec, description="The prompt sprint (tunegate sprint).")
    probe: dict[str, Any] = Field(default_factory=dict)
    monitor: MonitorSpec = Field(default_factory=MonitorSpec, description="Monitoring (tunegate monitor).")
    plugins: list[str] = Field(default_factory=list, description="Plug-ins to import before the spec is used: "
                               "module names (mypkg.scorers) or .py files relative to the spec; each registers "
                               "scorers, strategies, backends, drift tests or executors (docs/plugins.md).")

    # Where the spec came from; relative paths in it resolve against this directory.
    _source: Path | None = None
    _lines: dict[tuple, int] = {}  # key path -> line in the source, for located errors after validation

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> Spec:
        if self.data is None:
            return self
        if self.task.kind == "classification" and len(self.task.labels) < 2:
            raise ValueError("a classification task needs at least two labels under task.labels")
        f = self.data.fields
        if self.task.kind == "classification" and not f.label:
            raise ValueError("a classification task needs data.fields.label (the gold label column)")
        if self.task.kind in ("extraction", "generation") and not f.target:
            raise ValueError(f"a {self.task.kind} task needs data.fields.target (the gold output column)")
        return self

    @property
    def base_dir(self) -> Path:
        return self._source.parent if self._source else Path.cwd()

    @property
    def source(self) -> Path | None:
        return self._source

    def require_data(self) -> DataSpec:
        """The data section, or an error naming it: stages that read examples need one."""
        if self.data is None:
            raise SpecError("this spec has no data: section (stages that read examples need one)",
                            file=self.source, field="data")
        return self.data

    def line_of(self, key: str) -> int | None:
        """The line of a dotted key (``eval.scorers.0.strict``) in the spec file, if it is written there."""
        path = tuple(int(p) if p.isdigit() else p for p in key.split("."))
        return self._lines.get(path)

    def resolve(self, path: str | Path) -> Path:
        """A path from the spec, relative to the spec file's directory."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def config_hash(self) -> str:
        """A stable hash of the validated spec: part of every run's reproducibility record."""
        data = self.model_dump(mode="json")
        if not data["plugins"]:  # a spec without plug-ins keeps the hash it had before plug-ins existed
            del data["plugins"]
        for b in data["models"]["backends"].values():
            if not b["options"]:
                del b["options"]
        canon = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()[:16]



def json_schema() -> dict[str, Any]:
    """The JSON Schema of tunegate.yaml (for editors and CI validation). ``$defs.plugins`` lists every registered
    plug-in's options by kind (built-ins and loaded user plug-ins), where users look them up."""
    from tunegate.plugins import options_schema

    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "tunegate task spec (tunegate.yaml)"
    kinds, defs = options_schema()
    for name, d in defs.items():
        schema.setdefault("$defs", {}).setdefault(name, d)
    schema.setdefault("$defs", {})["plugins"] = {
        "description": "Options of each plug-in, by kind: scorer (eval.scorers entries), strategy "
                       "(sprint.strategies entries), backend (models.backends.<id>.options), drift_test, executor.",
        "type": "object", "properties": kinds}
    return schema


# ---------------------------------------------------------------------------------------------- loading


def _line_for(loc: tuple, lines: dict[tuple, int]) -> int | None:
    path = tuple(str(p) if not isinstance(p, int) else p for p in loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


def _check_tree(root: yaml.Node, source: str | Path) -> None:
    """Refuse duplicate keys (YAML lets the last one win silently) and documents whose aliases expand past
    MAX_YAML_NODES (a few lines of nested aliases otherwise grow to gigabytes once walked)."""
    sizes: dict[int, int] = {}
    seen: set[int] = set()

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 1  # a recursive alias counts once here; the constructor rejects or shares it
        if isinstance(node, yaml.MappingNode):
            n = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(v) for v in node.value)
        else:
            n = 1
        sizes[id(node)] = n
        return n

    def dupes(node: yaml.Node, path: tuple) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    line = k.start_mark.line + 1
                    if k.value in first:
                        raise SpecError(f"duplicate key (first at line {first[k.value]}; YAML would keep only "
                                        "the last one)", file=source, line=line,
                                        field=".".join(map(str, path + (k.value,))))
                    first[k.value] = line
                dupes(v, path + (getattr(k, "value", "?"),))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                dupes(v, path + (i,))

    total = size(root)
    if total > MAX_YAML_NODES:
        raise SpecError(f"the document expands to {total:,} YAML nodes through its aliases (limit "
                        f"{MAX_YAML_NODES:,}); write the values out instead of nesting aliases", file=source)
    dupes(root, ())


# libyaml's parser when PyYAML was built with it (~8x faster on a spec); same nodes, lines and constructed values
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str, source: str | Path, loader_cls: Any) -> tuple[Any, Any]:
    """(root node, constructed document), the tree checked (duplicate keys, alias expansion) in between."""
    loader = loader_cls(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_tree(root, source)
        return root, loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()


def parse_spec(text: str, source: str | Path = "<spec>") -> Spec:
    """Validate spec text; raise SpecError naming file, line and key on the first problem."""
    try:
        try:
            root, raw = _compose(text, source, _FAST_LOADER)
        except yaml.YAMLError:  # the pure-Python parser words (and places) every problem as users have seen it
            root, raw = _compose(text, source, yaml.SafeLoader)
    except RecursionError:
        raise SpecError("the document nests too deeply (recursive aliases?)", file=source) from None
    except yaml.reader.ReaderError as exc:  # a control or binary character: say which, and on what line
        line = text[: exc.position].count("\n") + 1
        raise SpecError(f"not valid YAML: character #x{exc.character:04x} is not allowed ({exc.reason})",
                        file=source, line=line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SpecError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            file=source,
            line=(mark.line + 1) if mark else None,
        ) from None
    if not isinstance(raw, dict):
        raise SpecError("the spec must be a YAML mapping with at least `task` and `data`", file=source)
    try:
        lines = _key_lines(root) if root is not None else {}
    except RecursionError:  # a mapping that holds itself: constructed fine, but it has no finite key paths
        raise SpecError("the document nests too deeply (recursive aliases?)", file=source) from None
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = ".".join(str(p) for p in loc) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; `tunegate schema` lists the valid keys)"
        if err["type"] == "missing":
            msg = "required key is missing"
        more = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
        raise SpecError(msg + more, file=source, line=_line_for(loc, lines), field=key) from None
    spec._source = Path(source).resolve() if source != "<spec>" else None
    spec._lines = lines
    if spec.plugins:
        load_plugins(spec.plugins, base_dir=spec.base_dir, source=source if spec._source else None,
                     line_of=spec.line_of)
    else:
        load_entry_points()
    return spec


def load_spec(path: str | Path) -> Spec:
    """Read and validate a tunegate.yaml."""
    p = Path(path)
    if not p.exists():
        raise SpecError("spec file not found", file=p)
    if p.is_dir():
        p = p / "tunegate.yaml"
        if not p.exists():
            raise SpecError("directory has no tunegate.yaml", file=p.parent)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read the spec: {exc.strerror}", file=p) from None
    return parse_spec(decode_text(data, p), source=p)


def decode_text(data: bytes, source: str | Path) -> str:
    """UTF-8 (a byte-order mark is allowed) or a SpecError naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at column {col} (save the file as "
                        "UTF-8)", file=source, line=line) from None

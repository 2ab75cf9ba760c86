"""Offline checks of the bundle, for tests and ``usecases validate`` (the Databricks CLI is not needed).

Checks: each job against the typed models of ``databricks-bundles`` (unknown fields rejected); entry points
exist in ``[project.scripts]``; ``depends_on`` names tasks of the same job; every ``${var.X}`` is declared;
each job's job-level parameters equal its config dataclass's fields, their defaults parse, and the generated
block is in sync with the dataclass; tasks take no positional parameters (so job parameters are pushed down);
optionally the whole bundle, merged per target, against the CLI's JSON schema (``databricks bundle schema``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shared.bundle import REFERENCE, Bundle, BundleError, load_bundle, task_order
from shared.bundle_sync import job_config_class, sync_bundle
from shared.config import parse_config
from shared.task import RUNTIME_ARGS


def _typed_models() -> dict[str, Any]:
    """Resource type -> the databricks-bundles typed model that checks it (unknown fields rejected)."""
    from databricks.bundles.experiments import MlflowExperiment
    from databricks.bundles.jobs import Job as TypedJob
    from databricks.bundles.model_serving_endpoints import ModelServingEndpoint
    from databricks.bundles.registered_models import RegisteredModel

    return {"jobs": TypedJob, "experiments": MlflowExperiment, "model_serving_endpoints": ModelServingEndpoint,
            "registered_models": RegisteredModel}


def typed_model_errors(bundle: Bundle) -> Iterator[str]:
    """Resources (jobs, experiments, serving endpoints, models) that the databricks-bundles typed models reject."""
    models = _typed_models()
    for path, data in bundle.files.items():
        # Top-level resources, and resources a target declares for itself only (e.g. a prod-only endpoint).
        targets = (data.get("targets") or {}).items()
        scopes = [("", data.get("resources"))]
        scopes += [(f"target {t!r} ", (spec or {}).get("resources")) for t, spec in targets]
        for where, declared in scopes:
            for kind, resources in (declared or {}).items():
                model = models.get(kind)
                if model is None:
                    continue
                for key, spec in (resources or {}).items():
                    try:
                        model.from_dict(copy.deepcopy(spec))
                    except (ValueError, TypeError) as exc:
                        yield f"{path.name}: {where}{kind[:-1]} {key!r}: {exc}"


def reference_errors(bundle: Bundle) -> Iterator[str]:
    """``${var.X}`` references to undeclared variables, in any bundle file."""
    declared = set(bundle.variables)
    for path in bundle.files:
        for ref in REFERENCE.findall(path.read_text(encoding="utf-8")):
            if ref.startswith("var.") and ref[4:] not in declared:
                yield f"{path.name}: ${{{ref}}} is not declared under variables in databricks.yml"


def task_errors(bundle: Bundle, target: str = "dev") -> Iterator[str]:
    """Entry points, dependencies, job parameters against the job's config, and pushdown-friendly tasks."""
    scripts = bundle.entry_points()
    for job in bundle.jobs.values():
        where_job = f"job {job.key!r}"
        try:
            task_order(job)
        except BundleError as exc:
            yield str(exc)
        names = job.parameter_names
        if len(set(names)) != len(names):
            yield f"{where_job}: a job parameter is declared twice"
        for task in job.tasks:
            where = f"{where_job} task {task.key!r}"
            if task.entry_point not in scripts:
                yield f"{where}: entry point {task.entry_point!r} is not in [project.scripts]"
            if task.parameters:
                yield (f"{where}: positional parameters turn off job parameter pushdown; declare job-level "
                       "parameters and give the task named_parameters only")
            named = dict(task.named_parameters)
            if set(named) - set(RUNTIME_ARGS):
                yield f"{where}: named_parameters may only hold {list(RUNTIME_ARGS)}, got {sorted(named)}"
            if set(named) & set(names):
                yield f"{where}: named_parameters repeat job parameter(s) {sorted(set(named) & set(names))}"
            if not named:
                yield (f"{where}: give the task named_parameters (job_run_id: '{{{{job.run_id}}}}') so Databricks "
                       "runs it with keyword arguments, which is what job parameter pushdown needs")
        if any(t.entry_point not in scripts for t in job.tasks):
            continue
        try:
            config_cls = job_config_class(bundle, job)
        except BundleError as exc:
            yield str(exc)
            continue
        fields = [f.name for f in dataclasses.fields(config_cls)]
        if set(names) != set(fields):
            yield (f"{where_job}: job parameters and {config_cls.__name__} fields differ: "
                   f"missing {sorted(set(fields) - set(names))}, extra {sorted(set(names) - set(fields))}")
        try:
            values = {p.name: bundle.resolve(p.default, target) for p in job.parameters}
            parse_config(config_cls, [f"--{k}={v}" for k, v in values.items()], prog=job.key)
        except Exception as exc:  # reported, not raised
            yield f"{where_job}: job parameter defaults do not parse for target {target!r}: {exc}"


def sync_errors(bundle: Bundle) -> Iterator[str]:
    """Job parameter blocks that differ from what their config dataclasses generate."""
    try:
        results = sync_bundle(bundle, write=False)
    except BundleError as exc:
        yield str(exc)
        return
    for result in results:
        if result.stale:
            yield (f"{result.path.name}: job parameters differ from their config dataclass; "
                   "run `usecases sync-bundle` (defaults are edited in the dataclass only)")


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merge(base.get(key), value) if key in base else value
        return merged
    return over if over is not None else base


def _strip_nulls(node: Any) -> Any:
    """The CLI treats YAML nulls as unset; the JSON schema would reject them."""
    if isinstance(node, dict):
        return {k: _strip_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_strip_nulls(v) for v in node if v is not None]
    return node


def effective_documents(bundle: Bundle) -> dict[str, dict[str, Any]]:
    """The whole bundle (includes merged) and, per target, the document ``bundle validate -t T`` would see."""
    merged: dict[str, Any] = {}
    for data in bundle.files.values():
        merged = _merge(merged, _strip_nulls(data))
    documents = {"<all files>": merged}
    for name, target in (merged.get("targets") or {}).items():
        doc = {k: v for k, v in merged.items() if k != "targets"}
        overrides = {k: v for k, v in (target or {}).items() if k not in ("default", "mode", "variables")}
        effective = _merge(doc, overrides)
        # A target's variable values become the declared variables' values, as the CLI resolves them.
        for var, value in ((target or {}).get("variables") or {}).items():
            declared = dict((effective.get("variables") or {}).get(var) or {})
            declared["default"] = value
            effective.setdefault("variables", {})[var] = declared
        documents[name] = effective
    return documents


def schema_errors(bundle: Bundle, schema_path: Path) -> Iterator[str]:
    """Each file on its own, and each per-target document, against the CLI's JSON schema."""
    import regex
    from jsonschema import Draft202012Validator, ValidationError
    from jsonschema.validators import extend

    def pattern(validator, patrn, instance, schema):  # jsonschema keyword signature
        # The schema's patterns use \p{L}, which Python's re cannot compile; the regex module can.
        if validator.is_type(instance, "string") and not regex.search(patrn, instance):
            yield ValidationError(f"{instance!r} does not match {patrn!r}")

    validator_cls = extend(Draft202012Validator, {"pattern": pattern})
    validator = validator_cls(json.loads(schema_path.read_text(encoding="utf-8")))
    documents = {p.name: _strip_nulls(d) for p, d in bundle.files.items()} | effective_documents(bundle)
    for name, document in documents.items():
        for error in validator.iter_errors(document):
            location = "/".join(str(p) for p in error.absolute_path) or "<root>"
            yield f"{name}: {location}: {error.message[:300]}"


def check_bundle(root: str | Path, schema_path: str | Path | None = None) -> list[str]:
    """Every offline check; an empty list means the bundle is valid."""
    bundle = load_bundle(root)
    errors = [*typed_model_errors(bundle), *reference_errors(bundle), *task_errors(bundle), *sync_errors(bundle)]
    if schema_path:
        errors.extend(schema_errors(bundle, Path(schema_path)))
    return errors

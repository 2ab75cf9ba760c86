"""Offline checks of the bundle, for tests and ``usecases validate`` (the Databricks CLI is not needed).

Checks: each job against the typed models of ``databricks-bundles`` (unknown fields rejected); entry points
exist in ``[project.scripts]``; ``depends_on`` names tasks of the same job; every ``${var.X}`` is declared;
each task's parameters parse with its own entry point's parser and cover its config one-to-one; optionally
the whole bundle, merged per target, against the CLI's JSON schema (``databricks bundle schema``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shared.bundle import REFERENCE, Bundle, BundleError, load_bundle, resolve_references, task_order
from shared.runner import load_entry_point

PARAM_NAME = re.compile(r"^--([A-Za-z_][A-Za-z0-9_]*)=")


def typed_model_errors(bundle: Bundle) -> Iterator[str]:
    """Jobs that the databricks-bundles typed models reject."""
    from databricks.bundles.jobs import Job as TypedJob

    for path, data in bundle.files.items():
        for key, spec in ((data.get("resources") or {}).get("jobs") or {}).items():
            try:
                TypedJob.from_dict(copy.deepcopy(spec))
            except (ValueError, TypeError) as exc:
                yield f"{path.name}: job {key!r}: {exc}"


def reference_errors(bundle: Bundle) -> Iterator[str]:
    """``${var.X}`` references to undeclared variables, in any bundle file."""
    declared = set(bundle.variables)
    for path in bundle.files:
        for ref in REFERENCE.findall(path.read_text(encoding="utf-8")):
            if ref.startswith("var.") and ref[4:] not in declared:
                yield f"{path.name}: ${{{ref}}} is not declared under variables in databricks.yml"


def task_errors(bundle: Bundle, target: str = "dev") -> Iterator[str]:
    """Entry points, dependencies, and each task's parameters against its own parser and config."""
    scripts = bundle.entry_points()
    values = bundle.variable_values(target)
    for job in bundle.jobs.values():
        try:
            task_order(job)
        except BundleError as exc:
            yield str(exc)
        for task in job.tasks:
            where = f"job {job.key!r} task {task.key!r}"
            if task.entry_point not in scripts:
                yield f"{where}: entry point {task.entry_point!r} is not in [project.scripts]"
                continue
            names = [m.group(1) for p in task.parameters if (m := PARAM_NAME.match(p))]
            if len(names) != len(task.parameters):
                yield f"{where}: every parameter must be --name=value"
            if len(set(names)) != len(names):
                yield f"{where}: a parameter is given twice"
            try:
                entry = load_entry_point(bundle, task)
                argv = [resolve_references(p, values, bundle.name, target) for p in task.parameters]
                entry.parse(argv)  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                yield f"{where}: parameters do not parse: {exc}"
                continue
            fields = {f.name for f in dataclasses.fields(entry.config_cls)}  # type: ignore[attr-defined]
            if set(names) != fields:
                yield (f"{where}: parameters and config fields differ: missing {sorted(fields - set(names))}, "
                       f"extra {sorted(set(names) - fields)}")


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

    def pattern(validator, patrn, instance, schema):  # noqa: ANN001, ANN202 - jsonschema keyword signature
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
    errors = [*typed_model_errors(bundle), *reference_errors(bundle), *task_errors(bundle)]
    if schema_path:
        errors.extend(schema_errors(bundle, Path(schema_path)))
    return errors

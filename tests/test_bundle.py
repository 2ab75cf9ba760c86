"""Offline validation of databricks.yml + resources/ (the Databricks CLI cannot run here or in users' CI)."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
from pathlib import Path

import pytest

from shared.bundle import load_bundle, load_yaml
from shared.bundle_check import check_bundle, effective_documents

REPO_ROOT = Path(__file__).resolve().parents[1]
TOY = REPO_ROOT / "tests" / "fixtures" / "toy_bundle"
SCHEMA_ENV = os.environ.get("DATABRICKS_BUNDLE_SCHEMA")
SCHEMA_BESIDE = REPO_ROOT.parent / "shared" / "reference" / "databricks-bundle-schema.json"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_bundle_file_loads_as_yaml_12() -> None:
    bundle = load_bundle(REPO_ROOT)
    assert bundle.name == "ml-use-cases"
    assert (REPO_ROOT / "databricks.yml") in bundle.files
    for path in bundle.files:
        assert isinstance(load_yaml(path), dict)


def test_repo_bundle_passes_offline_checks() -> None:
    """Typed models, entry points, depends_on, ${var.X}, per-task parsing; plus the JSON schema when given."""
    errors = check_bundle(REPO_ROOT, SCHEMA_ENV or None)
    assert errors == []


def test_dev_and_prod_targets() -> None:
    document = load_bundle(REPO_ROOT).document
    targets = document["targets"]
    assert targets["dev"]["mode"] == "development" and targets["dev"]["default"] is True
    prod = targets["prod"]
    assert prod["mode"] == "production"
    assert prod["run_as"] == {"service_principal_name": "${var.service_principal}"}
    assert {"service_principal_name": "${var.service_principal}", "level": "CAN_MANAGE"} in prod["permissions"]
    assert prod["variables"]["generate_data"] == "false"
    assert {"catalog", "schema", "experiment_root", "service_principal", "h3_engine"} <= set(document["variables"])
    assert targets["dev"]["variables"]["h3_engine"] == "databricks_sql"
    assert prod["variables"]["h3_engine"] == "databricks_sql"
    assert "default" not in document["variables"]["service_principal"]


def test_job_files_match_use_case_packages() -> None:
    bundle = load_bundle(REPO_ROOT)
    for key, job in bundle.jobs.items():
        assert job.source.name == f"{key}.job.yml"
        assert (REPO_ROOT / "usecases" / key / "__init__.py").is_file()
        for task in job.tasks:
            assert _normalise(task.package_name) == "ml-use-cases"


def test_installed_wheel_declares_the_same_entry_points_as_pyproject() -> None:
    bundle = load_bundle(REPO_ROOT)
    installed = {
        ep.name: ep.value
        for ep in importlib.metadata.distribution("ml-use-cases").entry_points
        if ep.group == "console_scripts"
    }
    assert installed == bundle.entry_points()


def _broken_toy(tmp_path: Path, edit) -> Path:  # edit: Callable[[str], str]
    root = tmp_path / "toy"
    shutil.copytree(TOY, root)
    job_file = root / "resources" / "toy.job.yml"
    job_file.write_text(edit(job_file.read_text()))
    return root


def test_toy_bundle_is_valid() -> None:
    assert check_bundle(TOY) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda s: s.replace("      name: toy pipeline\n", "      name: toy pipeline\n      colour: red\n", 1),
         "Unexpected field 'colour'"),
        (lambda s: s.replace("entry_point: toy-clean", "entry_point: toy-missing"), "'toy-missing' is not in"),
        (lambda s: s.replace('default: "${var.rows}"', 'default: "${var.undeclared}"', 1),
         "${var.undeclared} is not declared"),
        (lambda s: s.replace('        - name: bad_every', '        - name: bad_every_n', 1),
         "missing ['bad_every'], extra ['bad_every_n']"),
        (lambda s: s.replace('default: "10"', 'default: "ten"', 1), "bad value for --bad_every"),
        (lambda s: s.replace('default: "10"', 'default: "11"', 1), "run `usecases sync-bundle`"),
        (lambda s: s.replace("            named_parameters: *run_context\n",
                             '            parameters: ["--rows=1"]\n', 1),
         "positional parameters turn off job parameter pushdown"),
        (lambda s: s.replace('              job_run_id: "{{job.run_id}}"', '              rows: "3"', 1),
         "named_parameters may only hold"),
        (lambda s: s.replace("            - task_key: extract\n", "            - task_key: nothing\n", 1),
         "unknown task"),
    ],
)
def test_offline_checks_catch_defects(tmp_path: Path, edit, expected: str) -> None:
    errors = check_bundle(_broken_toy(tmp_path, edit))
    assert any(expected in e for e in errors), errors


def test_targets_merge_their_variables_into_the_effective_document() -> None:
    docs = effective_documents(load_bundle(TOY))
    assert docs["local"]["variables"]["rows"]["default"] == "50"
    assert "targets" not in docs["dev"]


@pytest.mark.skipif(not SCHEMA_BESIDE.is_file(), reason="the CLI's bundle JSON schema is not beside this checkout")
def test_json_schema_check_catches_a_wrong_type(tmp_path: Path) -> None:
    root = _broken_toy(tmp_path, lambda s: s.replace("      name: toy pipeline\n",
                                                       "      name: toy pipeline\n      max_concurrent_runs: [1]\n", 1))
    errors = check_bundle(root, SCHEMA_BESIDE)
    assert any("max_concurrent_runs" in e for e in errors), errors
    assert check_bundle(TOY, SCHEMA_BESIDE) == []


# What a Databricks ML runtime brings itself (not installed as task libraries there): torch and pillow.
ML_RUNTIME_PROVIDES = {"torch", "pillow"}


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_job_environments_install_exactly_their_extra() -> None:
    """Serverless environments list the wheel plus their use case's extra; the vision cluster adds the extra
    minus what the ML runtime provides; nothing installs pyspark (the platform's Spark must stay the only one)."""
    import tomllib

    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    bundle = load_bundle(REPO_ROOT)
    for key in bundle.jobs:
        spec = bundle.files[bundle.jobs[key].source]["resources"]["jobs"][key]
        wanted = sorted(extras[key])
        if spec.get("environments"):
            deps = spec["environments"][0]["spec"]["dependencies"]
            assert deps[0] == "../dist/*.whl" and sorted(deps[1:]) == wanted, key
            assert not any(_requirement_name(d) == "pyspark" for d in deps)
        else:
            libraries = spec["tasks"][0]["libraries"]
            pypi = sorted(lib["pypi"]["package"] for lib in libraries if "pypi" in lib)
            assert {"whl": "../dist/*.whl"} in libraries
            assert pypi == sorted(r for r in wanted if _requirement_name(r) not in ML_RUNTIME_PROVIDES), key
    runtime = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not any(_requirement_name(r) == "pyspark" for r in runtime)

"""What the registered fraud model accepts, and the bundle's serving endpoint for it."""

from __future__ import annotations

import shutil
from pathlib import Path

from shared.bundle import load_bundle
from shared.bundle_check import check_bundle
from usecases.fraud.features import default_spec
from usecases.fraud.serving import signature, spark_input_problems

REPO_ROOT = Path(__file__).resolve().parents[3]
CSV = {c: "string" for c in ("transaction_id", "step", "type", "amount", "old_balance_orig", "new_balance_orig",
                             "old_balance_dest", "new_balance_dest")}
TYPED = {**CSV, "transaction_id": "bigint", "step": "int", "amount": "decimal(18,2)", "old_balance_orig": "double",
         "new_balance_orig": "float", "old_balance_dest": "double", "new_balance_dest": "bigint"}


def test_a_model_accepts_text_or_numeric_columns_and_names_what_is_wrong() -> None:
    spec = default_spec(["CASH_OUT", "TRANSFER"])
    assert spark_input_problems(spec, signature(spec), CSV) == []
    assert spark_input_problems(spec, signature(spec), TYPED) == []
    with_risk = default_spec(["CASH_OUT", "TRANSFER"], ("risk",))
    assert spark_input_problems(with_risk, signature(with_risk), TYPED) == ["input lacks column(s) risk"]
    assert spark_input_problems(spec, signature(spec), {**TYPED, "amount": "array<double>", "type": "int"}) == [
        "column amount is array<double>, not usable as double", "column type is int, not usable as string"]
    assert spark_input_problems(spec, signature(spec), {**TYPED, "step": "timestamp"}) == [
        "column step is timestamp, not usable as long"]
    mismatch = spark_input_problems(with_risk, signature(spec), {**TYPED, "risk": "double"})
    assert len(mismatch) == 1 and "name different columns" in mismatch[0]
    assert spark_input_problems(spec, None, TYPED) == ["the registered version has no input signature"]


def test_the_serving_endpoint_is_declared_for_prod_only() -> None:
    """Dev deployments create no endpoint; prod serves a pinned version of the fraud_tree, scaling to zero."""
    bundle = load_bundle(REPO_ROOT)
    data = bundle.files[REPO_ROOT / "resources" / "fraud.job.yml"]
    assert "model_serving_endpoints" not in (data.get("resources") or {})
    assert set(data["targets"]) == {"prod"}
    endpoint = data["targets"]["prod"]["resources"]["model_serving_endpoints"]["fraud"]
    entity = endpoint["config"]["served_entities"][0]
    assert entity["entity_name"] == "${var.catalog}.${var.schema}.fraud_tree"
    assert entity["entity_version"] == "${var.fraud_serving_version}" and entity["scale_to_zero_enabled"] is True
    assert "fraud_serving_version" in bundle.variables
    assert "default" not in bundle.variables["fraud_serving_version"]  # prod must say which version


def test_the_typed_check_covers_endpoints_declared_under_a_target(tmp_path: Path) -> None:
    for name in ("databricks.yml", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    shutil.copytree(REPO_ROOT / "resources", tmp_path / "resources")
    assert check_bundle(tmp_path) == []
    job_file = tmp_path / "resources" / "fraud.job.yml"
    job_file.write_text(job_file.read_text().replace("workload_size: Small", "workload_sise: Small"))
    errors = check_bundle(tmp_path)
    assert len(errors) == 1 and "target 'prod' model_serving_endpoint 'fraud'" in errors[0]
    assert "workload_sise" in errors[0]

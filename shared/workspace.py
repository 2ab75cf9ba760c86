"""The few calls that must talk to a Databricks workspace, through databricks-sdk. Never called locally."""

from __future__ import annotations

from shared.env import on_databricks
from shared.identifiers import validate_name


def ensure_schema(catalog: str, schema: str) -> None:
    """Create ``catalog.schema`` in Unity Catalog if it does not exist (a no-op off Databricks)."""
    if not on_databricks():
        return
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import NotFound

    client = WorkspaceClient()
    full_name = f"{validate_name(catalog, 'catalog')}.{validate_name(schema, 'schema')}"
    try:
        client.schemas.get(full_name)
    except NotFound:
        client.schemas.create(name=schema, catalog_name=catalog, comment="Created by ml-use-cases jobs")


def ensure_volume(catalog: str, schema: str, volume: str) -> str:
    """Create a managed volume if absent and return its ``/Volumes/...`` path (local: a no-op returning '')."""
    if not on_databricks():
        return ""
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import NotFound
    from databricks.sdk.service.catalog import VolumeType

    client = WorkspaceClient()
    full_name = ".".join(validate_name(p, "volume name part") for p in (catalog, schema, volume))
    try:
        client.volumes.read(full_name)
    except NotFound:
        client.volumes.create(catalog_name=catalog, schema_name=schema, name=volume, volume_type=VolumeType.MANAGED)
    return f"/Volumes/{catalog}/{schema}/{volume}"

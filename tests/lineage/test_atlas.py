"""The Atlas v2 export of the demo pipeline, loaded with pyapacheatlas's entity model."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pyapacheatlas.core import AtlasEntity, AtlasProcess
from pyapacheatlas.core.typedef import (
    AtlasRelationshipEndDef,
    Cardinality,
    EntityTypeDef,
    RelationshipTypeDef,
)

from tidegate.app.lineage_cli import pipeline_lineage
from tidegate.lineage.atlas import atlas_export

if TYPE_CHECKING:
    from pathlib import Path

    from .conftest import Marquez


def load(entity: dict[str, Any]) -> AtlasEntity:
    """The entity as pyapacheatlas models it: processes as AtlasProcess."""
    model = AtlasProcess if "inputs" in entity["attributes"] else AtlasEntity
    return model.from_json(json.loads(json.dumps(entity)))


def test_the_demo_export_loads_with_pyapacheatlas_and_links_datasets_columns_and_processes(
    demo: Path,
) -> None:
    lineage = pipeline_lineage(demo, [])

    document = atlas_export(lineage, namespace="shop")

    loaded = [load(entity) for entity in document["entities"]]
    by_name = {entity.qualifiedName: entity for entity in loaded}
    assert len(by_name) == len(loaded)  # one entity per qualified name
    folder = demo.parent.resolve()
    customers = f"file://{folder}/data/customers.csv"
    countries = f"file://{folder}/data/countries.csv"
    output = f"duckdb://{folder}/.tidegate/warehouse.duckdb/warehouse.main.customers"
    assert {customers, countries, output} <= set(by_name)
    process = by_name["tidegate://shop/customers"]
    assert isinstance(process, AtlasProcess)
    refs = process.to_json()["attributes"]
    assert [r["uniqueAttributes"]["qualifiedName"] for r in refs["inputs"]] == [
        customers,
        countries,
    ]
    assert [r["uniqueAttributes"]["qualifiedName"] for r in refs["outputs"]] == [output]
    mapping = {m["DatasetMapping"]["Source"]: m["ColumnMapping"] for m in json.loads(
        refs["columnMapping"]
    )}  # fmt: skip
    assert {"Source": "name", "Sink": "country_name"} in mapping[countries]
    assert {"Source": "ip_address", "Sink": "last_login_ip"} in mapping[customers]
    column = by_name["tidegate://shop/customers#age_at_signup"].to_json()["attributes"]
    assert column["transformation"] == "masked:generalize"
    assert sorted(r["uniqueAttributes"]["qualifiedName"] for r in column["inputs"]) == [
        f"{customers}#birth_date",
        f"{customers}#signup_date",
    ]
    email = by_name[f"{output}#email"].to_json()
    assert email["attributes"]["transformation"] == "masked:hash"
    assert email["relationshipAttributes"]["dataset"]["uniqueAttributes"] == {
        "qualifiedName": output
    }
    # every reference points at an entity of the same request, by its negative guid
    guids = {entity.guid for entity in loaded}
    assert all(int(guid) < 0 for guid in guids)
    for entity in document["entities"]:
        for ref in [
            *entity["attributes"].get("inputs", []),
            *entity["attributes"].get("outputs", []),
            *entity.get("relationshipAttributes", {}).values(),
        ]:
            assert ref["guid"] in guids
            assert by_name[ref["uniqueAttributes"]["qualifiedName"]].guid == ref["guid"]


def test_pyapacheatlas_uploads_the_export_to_an_atlas_v2_api_as_the_docs_show(
    demo: Path, marquez: Marquez
) -> None:
    """The docs' upload, with pyapacheatlas's AtlasClient, against an Atlas API on loopback."""
    from pyapacheatlas.auth import BasicAuthentication  # noqa: PLC0415
    from pyapacheatlas.core import AtlasClient  # noqa: PLC0415

    marquez.paths = ("/api/atlas/v2/types/typedefs", "/api/atlas/v2/entity/bulk")
    marquez.status, marquez.reply = 200, b"{}"
    document = json.loads(json.dumps(atlas_export(pipeline_lineage(demo, []))))
    client = AtlasClient(
        endpoint_url=f"{marquez.url}/api/atlas/v2",
        authentication=BasicAuthentication(username="admin", password="admin"),  # noqa: S106 - a loopback test server
    )

    client.upload_typedefs(document["typeDefs"])
    client.upload_entities(document["entities"])

    typedefs, bulk = marquez.requests
    assert typedefs.path == "/api/atlas/v2/types/typedefs"
    assert typedefs.json() == document["typeDefs"]
    assert bulk.path == "/api/atlas/v2/entity/bulk"
    assert bulk.json() == {"entities": document["entities"]}
    assert bulk.headers["Authorization"].startswith("Basic ")


def test_the_type_definitions_load_as_pyapacheatlas_typedefs() -> None:
    document = atlas_export(_empty())["typeDefs"]

    entity_defs = [
        EntityTypeDef(name=d["name"], superTypes=d["superTypes"], attributeDefs=d["attributeDefs"])
        for d in document["entityDefs"]
    ]
    (relationship,) = document["relationshipDefs"]
    ends = [
        AtlasRelationshipEndDef(
            name=end["name"],
            typeName=end["type"],
            cardinality=Cardinality(end["cardinality"]),
            isContainer=end["isContainer"],
        )
        for end in (relationship["endDef1"], relationship["endDef2"])
    ]
    relation = RelationshipTypeDef(
        name=relationship["name"],
        relationshipCategory=relationship["relationshipCategory"],
        endDef1=ends[0],
        endDef2=ends[1],
    ).to_json()

    assert [d.to_json()["superTypes"] for d in entity_defs] == [
        ["DataSet"], ["DataSet"], ["Process"], ["Process"],
    ]  # fmt: skip
    for end, written in zip(
        (relation["endDef1"], relation["endDef2"]),
        (relationship["endDef1"], relationship["endDef2"]),
        strict=True,
    ):
        assert {k: v for k, v in end.items() if k != "isLegacyAttribute"} == written
    assert relation["relationshipCategory"] == "COMPOSITION"


def _empty() -> Any:
    from tidegate.lineage.columns import PipelineLineage  # noqa: PLC0415
    from tidegate.lineage.datasets import Dataset  # noqa: PLC0415

    return PipelineLineage(
        pipeline="p", inputs=(), output=Dataset("file", "/x.csv", "files"), columns=()
    )

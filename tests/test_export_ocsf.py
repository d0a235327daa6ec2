"""`molehunt export alerts --format ocsf`: every alert of a real run is a valid OCSF 1.7 finding.

Validated with the pydantic models of ``pydantic-ocsf`` (a test dependency) and, where those
models are lenient, against the same package's copy of the OCSF schema: attributes the class
does not define, and the schema's ``at_least_one`` / ``just_one`` constraints. A doctored
record must fail, so the validation can fail.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ocsf
import pyarrow.parquet as pq
import pytest
from ocsf.v1_7_0.events import DataSecurityFinding, DetectionFinding
from pydantic import BaseModel, ValidationError

from molehunt.store.connect import connect
from molehunt.store.workspace import Workspace
from test_cli import _molehunt

MODELS: dict[int, type[BaseModel]] = {2004: DetectionFinding, 2006: DataSecurityFinding}
SCHEMA = json.loads((Path(ocsf.__file__).parent / "schemas" / "v1_7_0.json")
                    .read_text("utf-8"))


def _object_names() -> dict[str, str]:
    """OCSF object name by the pydantic class name (``data_security`` → ``DataSecurity``)."""
    return {"".join(p.capitalize() for p in name.split("_")): name for name in SCHEMA["objects"]}


OBJECTS = _object_names()


def _constraints(name: str) -> Iterator[tuple[str, list[str]]]:
    """The object's constraints and those of the objects it extends."""
    while name in SCHEMA["objects"]:
        spec = SCHEMA["objects"][name]
        yield from (spec.get("constraints") or {}).items()
        name = spec.get("extends") or ""


def _problems(model: BaseModel, path: str) -> Iterator[str]:
    """What the pydantic models let through but the OCSF schema does not allow."""
    for extra in model.model_extra or {}:
        yield f"{path}.{extra}: not an attribute of {type(model).__name__}"
    present = {(f.alias or n).rstrip("_") for n, f in type(model).model_fields.items()
               if getattr(model, n) is not None}
    for kind, names in _constraints(OBJECTS.get(type(model).__name__, "")):
        count = len(present & set(names))
        if (kind == "at_least_one" and count == 0) or (kind == "just_one" and count != 1):
            yield f"{path}: {kind} of {names}"
    for name in type(model).model_fields:
        value = getattr(model, name)
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(item, BaseModel):
                yield from _problems(item, f"{path}.{name}[{i}]")


def validate(record: dict[str, Any]) -> None:
    """Raise ValueError unless ``record`` is a valid OCSF 1.7 Detection or Data Security
    Finding."""
    if record.get("class_uid") not in MODELS:
        raise ValueError(f"class_uid {record.get('class_uid')!r} is not 2004 or 2006")
    parsed = MODELS[record["class_uid"]].model_validate(copy.deepcopy(record))
    problems = list(_problems(parsed, "record"))
    version = parsed.metadata.version
    if version != "1.7.0":
        problems.append(f"metadata.version {version!r} is not 1.7.0")
    if problems:
        raise ValueError("; ".join(problems))


@pytest.fixture(scope="module")
def exported(slow_org: Any, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Workspace, list[dict[str, Any]], list[dict[str, Any]]]:
    """The slow-schemes organisation's alerts (a full run with its protected corpus matched)
    exported as OCSF through the CLI, and the alerts of its results."""
    shared, _ = slow_org
    root = tmp_path_factory.mktemp("ocsf")
    workspace = Workspace(root / "ws")  # the console writes its key and store into it
    shutil.copytree(shared.root, workspace.root)
    out = root / "alerts.ocsf.jsonl"
    done = _molehunt("export", "alerts", "--format", "ocsf", "--out", str(out),
                     workspace=workspace.root)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    alerts = pq.read_table(workspace.root / "results" / "alerts.parquet").to_pylist()
    return workspace, records, alerts


def test_every_alert_is_a_valid_ocsf_finding(
        exported: tuple[Workspace, list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    _, records, alerts = exported
    assert alerts, "the run opened no alerts: nothing would be validated"
    for record in records:
        validate(record)
    detections = [r for r in records if r["class_uid"] == 2004]
    assert len(detections) == len(alerts)
    assert len({r["finding_info"]["uid"] for r in detections}) == len(alerts)
    # each Data Security Finding belongs to one alert's Detection Finding
    data = [r for r in records if r["class_uid"] == 2006]
    assert data, "the low-and-slow leakers' alerts cite protected content leaving"
    by_alert = {r["metadata"]["correlation_uid"]: r for r in detections}
    for record in data:
        alert = by_alert[record["metadata"]["correlation_uid"]]
        cited = {e["uid"] for e in alert["finding_info"]["related_events"]}
        assert {e["uid"] for e in record["finding_info"]["related_events"]} <= cited
        assert record["data_security"]["confidentiality_id"] in (1, 2, 3, 4, 6)
    # the findings' reasons and evidence event ids are there
    for record in detections:
        evidences = record["evidences"]
        assert evidences and all(e["data"]["reasons"] for e in evidences)
        ids = {i for e in evidences for i in e["data"].get("event_ids", [])}
        assert ids, record["finding_info"]["uid"]
        observed = {o["value"] for o in record["observables"] if o["type_id"] == 99}
        assert observed <= ids


def test_the_export_names_no_one(
        exported: tuple[Workspace, list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    workspace, records, alerts = exported
    text = json.dumps(records)
    store = connect(workspace)
    try:
        people = store.con.to_pyarrow(store.directory.select("user_id", "name", "email")
                                      .distinct()).to_pylist()
    finally:
        store.close()
    secrets = {v for p in people for v in (p["user_id"], p["name"], p["email"]) if v}
    assert {a["user_id"] for a in alerts} <= secrets
    leaks = sorted(s for s in secrets if re.search(rf"\b{re.escape(s)}\b", text))
    assert leaks == []
    persons = {e["user"]["uid"] for r in records if r["class_uid"] == 2004
               for e in r["evidences"]}
    assert persons and all(p.startswith("P-") for p in persons)


@pytest.mark.parametrize("doctor", [
    "class_uid", "missing_finding_info", "missing_metadata", "severity_out_of_range",
    "unknown_attribute", "empty_evidence", "type_uid_mismatch", "data_security_empty"])
def test_doctored_records_fail_validation(
        exported: tuple[Workspace, list[dict[str, Any]], list[dict[str, Any]]],
        doctor: str) -> None:
    _, records, _ = exported
    detection = copy.deepcopy(next(r for r in records if r["class_uid"] == 2004))
    data = copy.deepcopy(next(r for r in records if r["class_uid"] == 2006))
    validate(detection)
    validate(data)
    record = detection
    if doctor == "class_uid":
        record["class_uid"] = 2006  # a Detection Finding passed off as a Data Security one
        record["type_uid"] = 200600 + record["activity_id"]
    elif doctor == "missing_finding_info":
        del record["finding_info"]
    elif doctor == "missing_metadata":
        del record["metadata"]
    elif doctor == "severity_out_of_range":
        record["severity_id"] = 7
    elif doctor == "unknown_attribute":
        record["finding_info"]["reasons"] = ["not an OCSF attribute"]
    elif doctor == "empty_evidence":
        record["evidences"][0] = {"name": "nothing"}  # at_least_one of actor, data, user, …
    elif doctor == "type_uid_mismatch":
        record["type_uid"] = 200499
    else:
        record = data
        record["data_security"] = {"confidentiality_id": 3}
    with pytest.raises(ValueError):  # pydantic's ValidationError is a ValueError
        validate(record)
    if doctor == "class_uid":  # the models themselves hold each class to its class_uid
        with pytest.raises(ValidationError, match="class_uid must be 2004"):
            DetectionFinding.model_validate(record)


def test_ocsf_is_for_alerts_only_and_needs_a_run(tmp_path: Path) -> None:
    done = _molehunt("export", "risk", "--format", "ocsf", workspace=tmp_path / "ws")
    assert done.returncode != 0
    assert "--format ocsf exports alerts only" in done.stderr
    done = _molehunt("export", "alerts", "--format", "ocsf", workspace=tmp_path / "ws")
    assert done.returncode != 0
    assert "no alerts yet; run `molehunt run` first" in done.stderr
    assert not (tmp_path / "ws" / "console").exists()  # nothing written on the way

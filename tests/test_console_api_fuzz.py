"""Schemathesis against ``/api/v1``: every operation, valid and malformed input, never a 5xx.

Each operation is called with an API token of a role that may use it (so the request gets past
the permission check and reaches the code behind it): first schemathesis' coverage cases
(boundary and just-invalid values of every field), then generated parameters and bodies, half
of the time with real path parameters (a known person, alert and case). Bounded and
deterministic: at most 100 coverage cases and 20 generated examples per operation and mode,
derandomised, no example database.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from console_fixture import ConsoleWorkspace, build
from molehunt.cases.accounts import PERMISSIONS, Principal, create_account, create_token
from molehunt.cases.models import ROLES
from molehunt.web.app import Need, create_app

PASSWORD = "correct horse battery"
EXAMPLES = 20


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> ConsoleWorkspace:
    """A small simulated workspace with stand-in results."""
    return build(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def app(made: ConsoleWorkspace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The console on a fresh SQLite store with one account per role."""
    db = tmp_path_factory.mktemp("db") / "console.sqlite"
    application = create_app(made.root, f"sqlite:///{db}", index_activity=False)
    yield application
    application.state.console.close()


def _permission(route: APIRoute) -> str | None:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if isinstance(dependency.call, Need):
            return dependency.call.permission
        pending += dependency.dependencies
    return None


def _fuzz(strategy: st.SearchStrategy[Any], headers: dict[str, str], label: str,
          failures: list[str]) -> None:
    @given(case=strategy)
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        response = case.call(headers=headers)
        if response.status_code >= 500:
            failures.append(f"{label} -> {response.status_code}: {response.text[:200]}"
                            f" ({case.as_curl_command()})")

    call()


def test_no_operation_answers_with_a_server_error(app: Any, made: ConsoleWorkspace) -> None:
    console = app.state.console
    tokens: dict[str, str] = {}
    with console.store.transaction() as session:
        for role in ROLES:
            tokens[role] = create_token(session, create_account(
                session, f"fuzz-{role}", PASSWORD, role), "fuzz")
    analyst = Principal(1, "fuzz-analyst", "analyst", None, via="token")
    alert = console.alerts(analyst)["alerts"][0]["alert_id"]
    case_id = console.open_case(analyst, [alert], "fuzzed case")
    known = {"person": console.pseudonyms.of(made.target), "alert_id": alert,
             "case_id": case_id, "request_id": 1}
    needs = {(method, route.path): _permission(route) for route in app.routes
             if isinstance(route, APIRoute) for method in route.methods}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    operations = coverage_cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        permission = needs.get((operation.method.upper(), operation.path))
        role = next((r for r in ROLES if permission and r in PERMISSIONS[permission]),
                    "analyst")
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        names = {p.name for p in operation.path_parameters}
        real = {k: v for k, v in known.items() if k in names}
        # schemathesis' coverage phase: boundary and just-out-of-bounds values of every
        # parameter and body field, a fixed list (no randomness)
        for case in itertools.islice(schema.iter_coverage_cases(
                operation, generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                generation_config=schema.config.generation_for(operation=operation)), 100):
            response = case.call(headers=headers)
            coverage_cases += 1
            if response.status_code >= 500:
                failures.append(f"{operation.method.upper()} {operation.path} coverage ->"
                                f" {response.status_code}: {response.text[:200]}"
                                f" ({case.as_curl_command()})")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            if real:
                strategy = st.one_of(strategy, operation.as_strategy(
                    generation_mode=mode, path_parameters=real))
            label = f"{operation.method.upper()} {operation.path} {mode.value}"
            try:
                _fuzz(strategy, headers, label, failures)
            except Unsatisfiable:
                # an operation without parameters or body has no malformed variant
                assert mode is GenerationMode.NEGATIVE, label
    assert operations >= 25 and coverage_cases > 300  # the whole API was there to be fuzzed
    assert not failures, "\n".join(failures[:20])

"""Fuzz the HTTP API from its own OpenAPI spec (schemathesis), bounded to ~50 cases each."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from distillguard.online import MemoryState
from distillguard.online.engine import Enforcer
from distillguard.policy import default_policy
from distillguard.serve import create_app

app = create_app(Enforcer(MemoryState(), default_policy()))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_spec(case: schemathesis.Case) -> None:
    """No 5xx, responses match the documented schemas, bad input is a 4xx."""
    case.call_and_validate()

"""Schema-driven fuzzing of the API with schemathesis, shared by the tests and `bench.fuzz_api`.

Cases come from the service's own OpenAPI document. So that fuzzing reaches past the 404s,
each operation's path id is, in turn, a seeded object of the caller's own organisation, one
of another organisation, or whatever schemathesis generates; known query and body ids
(`call_id`, `application_id`, …) are replaced by seeded ones in two cases out of three. Every
response must not be a 5xx and must conform to the document: a documented status code, the
documented content type, headers and body schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.security.matrix import MATRIX
from tests.security.world import World

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# The roles fuzzing signs in as (the anonymous column is the matrix's business).
FUZZ_ROLES = ("applicant", "reviewer", "program_officer", "finance_officer", "admin")


def load_schema(app: FastAPI) -> Any:
    """The app's own OpenAPI document, with requests sent to the app in-process."""
    schema = schemathesis.openapi.from_dict(app.openapi(), config=schemathesis.Config())
    schema.app = app
    return schema


def operations(schema: Any) -> dict[str, Any]:
    """Every operation of the document by its label ("GET /api/v1/calls")."""
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        found[operation.label] = operation
    return found


def _known_ids(world: World, side: str) -> dict[str, str]:
    """Seeded ids for the id-named query and body fields the API takes."""
    chosen = world.sides[side]
    return {
        "call_id": world.awarding_call,
        "application_id": chosen.review_application,
        "organization_id": chosen.organization_id,
        "reviewer_id": chosen.reviewer_id,
        "milestone_id": chosen.approved_milestone,
        "actor_id": world.user_ids["admin"],
    }


def _with_known_ids(case: Any, known: dict[str, str] | None) -> Any:
    if known is None:
        return case
    if case.query:
        case.query = {k: known.get(k, v) for k, v in case.query.items()}
    if isinstance(case.body, dict):
        case.body = {k: known.get(k, v) for k, v in case.body.items()}
    return case


def case_strategy(operation: Any, world: World) -> st.SearchStrategy[Any]:
    """Positive and negative cases, with path and known ids drawn from the seeded world."""
    entry = MATRIX.get(operation.label)
    path_choices: list[dict[str, str] | None] = [None]
    if entry is not None and entry.target is not None:
        sides = ("own", "other") if entry.scoped else ("own",)
        path_choices += [{"id": entry.target(world, world.sides[side])} for side in sides]
    cases = st.one_of(
        [
            operation.as_strategy(mode, path_parameters=path)
            for path in path_choices
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ]
    )
    known = st.sampled_from([None, _known_ids(world, "own"), _known_ids(world, "other")])
    return st.tuples(cases, known).map(lambda pair: _with_known_ids(*pair))


@dataclass
class Outcome:
    status: int
    failures: list[Failure]
    # The report schemathesis writes: the failures, the response and a curl command.
    report: str = ""

    @property
    def titles(self) -> tuple[str, ...]:
        return tuple(sorted({f"{f.code} {f.title}" for f in self.failures}))


def call_and_check(case: Any, headers: dict[str, str]) -> Outcome:
    """Send the case with the role's token and run every check."""
    response = case.call(headers=headers)
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except FailureGroup as group:
        return Outcome(response.status_code, list(group.exceptions), str(group))
    except Failure as failure:
        return Outcome(response.status_code, [failure], str(failure))
    return Outcome(response.status_code, [])


def run_examples(
    strategy: st.SearchStrategy[Any],
    headers: dict[str, str],
    on_outcome: Callable[[Any, Outcome], None],
    *,
    max_examples: int,
    seed: int | None = None,
) -> None:
    """Run up to `max_examples` cases. Without a seed, derandomised: the same cases every run.

    No shrinking and no example database: a failure is reported as found, and no failing
    example is kept to be replayed first next time (which would make runs differ).
    """
    chosen = settings(
        max_examples=max_examples,
        derandomize=seed is None,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        # The seeded world is built once; generation is slow for the large bodies on purpose.
        suppress_health_check=list(HealthCheck),
    )

    @chosen
    @given(case=strategy)
    def run(case: Any) -> None:
        on_outcome(case, call_and_check(case, headers))

    if seed is not None:
        run = hypothesis_seed(seed)(run)
    run()

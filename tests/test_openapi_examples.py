"""The documents' examples are real: requests the function accepts, answers it gives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from cec_sim import SimulatorControl
from function import errors
from function.callers import policies
from function.edge.openapi import document as openapi
from function.edge.openapi import examples as ex
from function.state import idempotency


@pytest.mark.parametrize("name", sorted(ex.REQUESTS))
def test_each_request_example_is_accepted(name: str, post: Callable[..., Any], sim: SimulatorControl) -> None:
    response = post(ex.REQUESTS[name]["value"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == ("planned" if name == "dryRun" else "deleted")
    assert (sim.deleted() == []) is (name == "dryRun")


def _examples(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], Any]]:
    found = []
    for path, item in doc["paths"].items():
        for operation in item.values():
            for status, response in operation["responses"].items():
                for media in response.get("content", {}).values():
                    for example in media.get("examples", {}).values():
                        found.append((path, status, media["schema"], example["value"]))
    return found


def test_each_answer_example_fits_its_schema() -> None:
    doc = openapi.build_document()
    examples = _examples(doc)
    assert {status for path, status, _, _ in examples if path == "/"} == set(doc["paths"]["/"]["post"]["responses"])
    for _path, status, schema, value in examples:
        jsonschema.Draft202012Validator({**schema, "components": doc["components"]}).validate(value)
        if "code" in value:
            assert value["status"] == int(status)


def test_problem_examples_use_the_real_titles() -> None:
    classes = [errors.InvalidRequest, errors.Unauthenticated, errors.MethodNotAllowed, errors.PayloadTooLarge,
               errors.UnsupportedMediaType, errors.InternalError, errors.UpstreamRejected, errors.UpstreamUnavailable,
               errors.UpstreamTimeout, idempotency.IdempotencyInProgress, idempotency.IdempotencyKeyReused,
               policies.Forbidden, errors.BodyTimeout]  # fmt: skip
    titles = {cls.code: cls.title for cls in classes}
    retryable = {cls.code: cls.retryable for cls in classes}
    for problem in ex.PROBLEMS.values():
        assert problem["title"] == titles[problem["code"]], problem["code"]
        assert problem["retryable"] == retryable[problem["code"]], problem["code"]

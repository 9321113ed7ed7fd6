"""Schemathesis hooks for test/schemathesis.test.ts.

422 means two things in Stocktake (api/problem.ts):
- `invalid-request`: the request does not satisfy its schema (path, query,
  headers, body). For a request the document calls valid, that is the
  server and its contract disagreeing: a failure.
- any other type: the request is well-formed and names data that cannot be
  used (an unknown warehouse, a unit that allows 3 decimals, a load whose
  lines are wrong). JSON Schema cannot know the data; the refusal is the
  documented answer.

The built-in positive_data_acceptance check therefore runs with 422 among
its expected statuses (see the config the test writes), and this check
refuses the first kind.
"""

import schemathesis

SCHEMA_REFUSALS = ("invalid-request",)


@schemathesis.check
def schema_valid_requests_pass_validation(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    try:
        problem = response.json()
    except Exception:
        return None
    problem_type = str(problem.get("type", "")).rsplit("/", 1)[-1]
    if problem_type in SCHEMA_REFUSALS:
        raise AssertionError(
            f"The document calls this request valid; the server refused it as {problem_type}: {str(problem.get('detail', ''))[:500]}"
        )
    return None

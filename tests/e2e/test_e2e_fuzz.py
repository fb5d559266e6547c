"""A bounded schemathesis run against the running local stack, over real HTTP: every check on every
route, positive and negative data, with the submitters' key. ``make fuzz`` runs the long one, and
the dashboards' routes with their own key as well."""

from __future__ import annotations

import pytest

from payctl.devtools.fuzz import run_schemathesis

pytestmark = pytest.mark.e2e

# Every phase still runs (examples, coverage, a short fuzzing and stateful phase): about 400 cases
# in 30 s on the 2-core machine, most of them the coverage phase's.
MAX_EXAMPLES = 2


def test_schemathesis_finds_nothing(local_stack, api_key):
    result = run_schemathesis(local_stack.api_url, api_key, max_examples=MAX_EXAMPLES, timeout=300)

    assert result.cases > 300, result.output
    assert result.ok, result.output

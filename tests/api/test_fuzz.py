"""Fuzz the whole REST API from its own OpenAPI document: bad input never gives a 500.

(schemathesis' pytest plugin does not run on pytest 9, so its strategies are driven
through hypothesis directly, one operation at a time.)
"""

import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from liaison.users.services import create_api_token


def test_no_input_makes_the_api_fail_with_a_server_error(transactional_db, admin_user):
    token = create_api_token(admin_user, "fuzz")[1]
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error])

        check()
        tried.append(operation.label)
    assert len(tried) > 40, tried

"""Every operator of every value type, in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Q
from django.utils import timezone

from liaison.contacts.models import Contact
from liaison.core.contributions import SegmentFilter
from liaison.core.contributions.segments import DEFAULT_OPERATORS, OPERATORS
from liaison.core.registry import registry
from liaison.segments import filters as engine
from tests.segments.conftest import names

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def days_ago(n: int) -> str:
    return (timezone.localdate() - timedelta(days=n)).isoformat()


CASES = [
    # standard text columns (case-insensitive)
    ("contact.email", "eq", "ANN@acme.com", {"ann"}),
    ("contact.email", "neq", "ann@acme.com", {"bob", "cid"}),
    ("contact.email", "contains", "ACME", {"ann", "cid"}),
    ("contact.email", "not_contains", "acme", {"bob"}),
    ("contact.email", "starts_with", "Bo", {"bob"}),
    ("contact.email", "ends_with", ".org", {"bob"}),
    ("contact.email", "in", ["ann@acme.com", "BOB@example.org"], {"ann", "bob"}),
    ("contact.email", "not_in", ["ann@acme.com"], {"bob", "cid"}),
    ("contact.first_name", "empty", None, {"cid"}),
    ("contact.first_name", "not_empty", None, {"ann", "bob"}),
    ("contact.city", "eq", "lyon", {"ann"}),
    # numbers
    ("contact.points", "eq", 10, {"ann"}),
    ("contact.points", "neq", "10", {"bob", "cid"}),
    ("contact.points", "gt", 0, {"ann"}),
    ("contact.points", "gte", 0, {"ann", "bob"}),
    ("contact.points", "lt", 0, {"cid"}),
    ("contact.points", "lte", "0", {"bob", "cid"}),
    ("contact.points", "between", [0, 10], {"ann", "bob"}),
    ("contact.points", "in", [0, -5], {"bob", "cid"}),
    ("contact.points", "not_in", [0], {"ann", "cid"}),
    # dates on a datetime column, by day
    ("contact.created_at", "eq", days_ago(0), {"cid"}),
    ("contact.created_at", "neq", days_ago(0), {"ann", "bob"}),
    ("contact.created_at", "gt", days_ago(20), {"ann", "cid"}),
    ("contact.created_at", "gte", days_ago(10), {"ann", "cid"}),
    ("contact.created_at", "lt", days_ago(20), {"bob"}),
    ("contact.created_at", "lte", days_ago(10), {"ann", "bob"}),
    ("contact.created_at", "between", [days_ago(40), days_ago(5)], {"ann", "bob"}),
    ("contact.created_at", "last_days", 15, {"ann", "cid"}),
    ("contact.created_at", "more_than_days_ago", 30, {"bob"}),
    ("contact.created_at", "before_today", None, {"ann", "bob"}),
    ("contact.created_at", "today", None, {"cid"}),
    ("contact.created_at", "after_today", None, set()),
    ("contact.created_at", "next_days", 5, set()),
    ("contact.last_activity_at", "empty", None, {"bob", "cid"}),
    ("contact.last_activity_at", "not_empty", None, {"ann"}),
    ("contact.last_activity_at", "last_days", 3, {"ann"}),
    # booleans and choices
    ("contact.do_not_contact", "eq", True, {"cid"}),
    ("contact.do_not_contact", "eq", "no", {"ann", "bob"}),
    ("contact.owner", "empty", None, {"bob", "cid"}),
    # company columns: a contact without a company has none of its values
    ("company.name", "eq", "acme", {"ann"}),
    ("company.name", "neq", "Acme", {"bob", "cid"}),
    ("company.name", "contains", "et", {"bob"}),
    ("company.name", "not_contains", "cm", {"bob", "cid"}),
    ("company.city", "empty", None, {"cid"}),
    ("company.city", "not_empty", None, {"ann", "bob"}),
    ("company.employees", "gt", 10, {"ann"}),
    ("company.employees", "empty", None, {"bob", "cid"}),
    ("company.employees", "not_empty", None, {"ann"}),
    ("company.custom.sector", "eq", "SaaS", {"ann"}),
    ("company.custom.sector", "empty", None, {"bob", "cid"}),
    # custom fields (JSON)
    ("contact.custom.tier", "eq", "gold", {"ann"}),
    ("contact.custom.tier", "neq", "gold", {"bob", "cid"}),
    ("contact.custom.tier", "in", ["gold", "silver"], {"ann", "bob"}),
    ("contact.custom.tier", "not_in", ["gold"], {"bob", "cid"}),
    ("contact.custom.tier", "empty", None, {"cid"}),
    ("contact.custom.tier", "not_empty", None, {"ann", "bob"}),
    ("contact.custom.score", "gt", 5, {"ann"}),
    ("contact.custom.score", "lte", 3, {"bob"}),
    ("contact.custom.score", "between", [3, 7.5], {"ann", "bob"}),
    ("contact.custom.score", "neq", 3, {"ann", "cid"}),
    ("contact.custom.score", "empty", None, {"cid"}),
    ("contact.custom.since", "gt", "2024-01-01", {"ann"}),
    ("contact.custom.since", "lt", "2024-01-01", {"bob"}),
    ("contact.custom.since", "eq", "2024-03-01", {"ann"}),
    ("contact.custom.since", "between", ["2023-12-31", "2024-01-31"], {"bob"}),
    ("contact.custom.since", "before_today", None, {"ann", "bob"}),
    ("contact.custom.since", "empty", None, {"cid"}),
    ("contact.custom.vip", "eq", True, {"ann"}),
    ("contact.custom.vip", "eq", False, {"bob", "cid"}),
    ("contact.custom.tags", "in", ["a"], {"ann"}),
    ("contact.custom.tags", "in", ["b", "c"], {"ann", "bob"}),
    ("contact.custom.tags", "not_in", ["a"], {"bob", "cid"}),
    ("contact.custom.tags", "empty", None, {"cid"}),
    ("contact.custom.tags", "not_empty", None, {"ann", "bob"}),
    ("contact.custom.note", "contains", "WORLD", {"ann"}),
    ("contact.custom.note", "starts_with", "hel", {"ann"}),
    ("contact.custom.note", "not_contains", "world", {"bob", "cid"}),
    ("contact.custom.note", "empty", None, {"bob", "cid"}),
    ("contact.custom.seen_at", "last_days", 7, {"ann"}),
    ("contact.custom.seen_at", "more_than_days_ago", 7, {"bob"}),
    ("contact.custom.seen_at", "empty", None, {"cid"}),
    # timeline activity of a kind within a period
    ("activity.kind", "ever", {"values": []}, {"ann"}),
    ("activity.kind", "never", {}, {"bob", "cid"}),
    ("activity.kind", "in_last_days", {"values": ["contact.note"], "days": 3}, {"ann"}),
    ("activity.kind", "in_last_days", {"values": ["contact.imported"], "days": 3}, set()),
    ("activity.kind", "not_in_last_days", {"values": ["contact.imported"], "days": 7}, {"ann", "bob", "cid"}),
    ("activity.kind", "in_between", {"values": [], "from": days_ago(25), "to": days_ago(15)}, {"ann"}),
]


@pytest.mark.parametrize("key, operator, value, expected", CASES, ids=[f"{c[0]}-{c[1]}-{i}" for i, c in
                                                                       enumerate(CASES)])
def test_operator(people, key, operator, value, expected):
    flt = engine.catalogue()[key]
    cleaned = flt.clean(operator, value)
    assert names(Contact.objects.filter(flt.to_q(operator, cleaned))) == expected


def test_owner_and_segment_membership(people):
    from liaison.segments import services

    filters = engine.catalogue()
    owner = filters["contact.owner"]
    assert names(Contact.objects.filter(owner.to_q("in", owner.clean("in", [str(people["owner"].pk)])))) == {"ann"}
    static = services.save_segment({"name": "Hand-picked"})
    services.add_static(static, [people["bob"].pk])
    member = filters["segments.member"]
    value = member.clean("in", [str(static.pk)])
    assert names(Contact.objects.filter(member.to_q("in", value))) == {"bob"}
    assert names(Contact.objects.filter(member.to_q("not_in", value))) == {"ann", "cid"}


def test_the_table_covers_every_operator_and_value_type(people):
    filters = engine.catalogue()
    assert {op for _, op, _, _ in CASES} == set(OPERATORS)
    assert {filters[key].value_type for key, _, _, _ in CASES} == set(DEFAULT_OPERATORS)
    for key, op, _, _ in CASES:
        assert op in filters[key].operators, (key, op)


@pytest.mark.parametrize("key, operator, value, message", [
    ("contact.points", "gt", "many", "not a number"),
    ("contact.points", "contains", "1", "cannot use the operator"),
    ("contact.points", "between", [5, 1], "must not be greater"),
    ("contact.created_at", "eq", "yesterday", "not a date"),
    ("contact.created_at", "last_days", 0, "between 1 and"),
    ("contact.custom.tier", "eq", "bronze", "Not among the choices"),
    ("contact.email", "in", [], "at least one value"),
    ("contact.email", "eq", "", "Enter a value"),
    ("activity.kind", "in_last_days", {"values": ["nope"], "days": 3}, "Not among the choices"),
    ("activity.kind", "in_between", {"from": "2024-02-01", "to": "2024-01-01"}, "start date"),
])
def test_bad_values_are_refused_with_a_sentence(people, key, operator, value, message):
    with pytest.raises(ValueError, match=message):
        engine.catalogue()[key].clean(operator, value)


def test_and_or_nesting(people):
    tree = {"match": "any", "rules": [
        {"filter": "contact.email", "operator": "ends_with", "value": ".org"},
        {"match": "all", "rules": [
            {"filter": "contact.email", "operator": "contains", "value": "acme"},
            {"match": "any", "rules": [
                {"filter": "contact.points", "operator": "gt", "value": 5},
                {"filter": "contact.do_not_contact", "operator": "eq", "value": True},
            ]},
            {"filter": "contact.first_name", "operator": "not_empty", "value": None},
        ]},
    ]}
    filters = engine.catalogue()
    cleaned, errors = engine.clean_tree(tree, filters)
    assert errors == {}
    assert names(Contact.objects.filter(engine.compile_tree(cleaned, filters))) == {"bob", "ann"}
    cleaned["rules"][1]["match"] = "any"
    assert names(Contact.objects.filter(engine.compile_tree(cleaned, filters))) == {"ann", "bob", "cid"}
    assert Contact.objects.filter(engine.compile_tree({"match": "all", "rules": []}, filters)).count() == 0


def test_tree_errors_name_the_condition(people):
    filters = engine.catalogue()
    tree = {"match": "all", "rules": [
        {"filter": "contact.points", "operator": "gt", "value": "x"},
        {"match": "maybe", "rules": [{"filter": "nope.nothing", "operator": "eq", "value": 1}]},
        "not a rule",
    ]}
    _, errors = engine.clean_tree(tree, filters)
    assert "filters.rules.0.value" in errors
    assert "filters.rules.1.match" in errors
    assert "no filter “nope.nothing”" in errors["filters.rules.1.rules.0.filter"][0]
    assert "filters.rules.2" in errors
    deep = {"match": "all", "rules": []}
    node = deep
    for _ in range(6):
        child = {"match": "all", "rules": []}
        node["rules"].append(child)
        node = child
    _, errors = engine.clean_tree(deep, filters)
    assert any("nested" in m for ms in errors.values() for m in ms)


def test_registry_filter_contract_with_a_test_contribution(people):
    """The test app's filter reads a local table, offers paged choices and compiles to Exists."""
    from liaison.integrations.models import Integration
    from tests.testapp.models import ExamplePerson

    crm = Integration.objects.create(spec_key="example", name="Main CRM")
    Integration.objects.create(spec_key="example", name="Other CRM")
    ExamplePerson.objects.create(integration=crm, remote_id="7", contact=people["bob"], email="bob@example.org",
                                 remote_updated_at="x")
    flt = registry.get(SegmentFilter, "example.synced_from")
    assert flt.choices("main").items == [(str(crm.pk), "Main CRM")]
    page = flt.choices("", 0, 1)
    assert len(page.items) == 1 and page.more
    tree = {"match": "all", "rules": [{"filter": "example.synced_from", "operator": "in", "value": [str(crm.pk)]}]}
    filters = engine.catalogue()
    cleaned, errors = engine.clean_tree(tree, filters)
    assert errors == {}
    q = engine.compile_tree(cleaned, filters)
    assert isinstance(q, Q) and names(Contact.objects.filter(q)) == {"bob"}
    assert "Synced from Example CRM is one of “Main CRM”" in engine.describe(cleaned, filters)
    _, errors = engine.clean_tree({"match": "all", "rules": [
        {"filter": "example.synced_from", "operator": "in", "value": ["999999"]}]}, filters)
    assert "Not among the choices" in errors["filters.rules.0.value"][0]

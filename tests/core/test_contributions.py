"""The contracts check themselves when registered: a bad contribution fails at start-up."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import BaseModel

from liaison.core.contributions import ActionResult, FormAction, FormFieldType, SegmentFilter
from liaison.core.registry import registry


@dataclass(eq=False, repr=False)
class Anything(SegmentFilter):
    def to_q(self, operator, value):
        raise AssertionError("not evaluated here")


@dataclass(eq=False, repr=False)
class Nothing(FormAction):
    def run(self, submission, contact, config):
        return ActionResult(True)


@pytest.mark.parametrize("contribution, message", [
    (Anything(key="x.a", label="A", value_type="colour"), "unknown value_type"),
    (Anything(key="x.b", label="B", operators=("eq", "sounds_like")), "unknown or missing operators"),
    (Anything(key="x.c", label="C", value_type="text", operators=("ever",)), "period operators"),
    (FormFieldType(key="x.d", label="D", widget="slider"), "unknown widget"),
    (Nothing(key="x.e", label="E", config_schema=dict), "pydantic model"),
])
def test_bad_contributions_are_refused(contribution, message):
    with pytest.raises(ValueError, match=message), registry.override(contribution):
        pass


def test_defaults_follow_the_value_type():
    assert Anything(key="x.f", label="F", value_type="number").operators[:3] == ("eq", "neq", "gt")
    assert Anything(key="x.g", label="G", value_type="date").operator_label("gt") == "after"
    assert Nothing(key="x.h", label="H").config_schema.model_validate({}) is not None
    assert issubclass(Nothing(key="x.i", label="I").config_schema, BaseModel)
    with pytest.raises(TypeError):
        FormAction(key="x.j", label="J")  # run() is required

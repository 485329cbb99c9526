from django.http import QueryDict
from pydantic import BaseModel, Field

from liaison.core.configform import config_from_post, config_inputs


class Config(BaseModel):
    tags: list[str] = Field(default_factory=list, title="Tags")
    segments: list[int] = Field(default_factory=list, title="Segments")
    note: str = ""


def choices_for(name):
    return [("1", "One"), ("2", "Two")] if name == "segments" else None


def inputs():
    return {c.setting.name: c for c in config_inputs(Config, "s", {"tags": ["red", "blue"], "segments": [2]},
                                                     choices_for)}


def test_a_list_with_choices_is_a_multiselect_and_a_free_list_a_textarea():
    drawn = inputs()
    assert drawn["segments"].input_type == "multiselect" and drawn["segments"].value == ["2"]
    assert drawn["tags"].input_type == "textarea" and drawn["tags"].value == "red\nblue"
    assert drawn["note"].input_type == "text"
    nothing_yet = config_inputs(Config, "s", {}, lambda name: [] if name == "segments" else None)
    assert nothing_yet[1].input_type == "multiselect"  # no segments yet: still a choice, not free text


def test_reading_back_both_kinds_of_list():
    post = QueryDict(mutable=True)
    post.setlist("s-c-segments", ["1", "2"])
    post["s-c-tags"] = "red\r\n  green \n\nblue"
    post["s-c-note"] = "hi"
    config = config_from_post(post, "s", Config)
    assert config == {"tags": ["red", "green", "blue"], "segments": ["1", "2"], "note": "hi"}
    assert Config(**config).segments == [1, 2]

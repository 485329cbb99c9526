"""The segments' form actions: add the submitter to a segment, or remove them (static)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from liaison.core.contributions import ActionResult, FormAction, FormSpec
from liaison.segments import services
from liaison.segments.models import Segment


class SegmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    segment_id: int = Field(..., ge=1, le=2**63 - 1, title="Segment")


@dataclass(eq=False, repr=False)
class SegmentAction(FormAction):
    """Static membership: the contact stays in (or out of) the segment whatever its filters say."""

    include: bool = True

    def run(self, submission, contact, config: SegmentConfig) -> ActionResult:
        segment = Segment.objects.filter(pk=config.segment_id).first()
        if segment is None:
            return ActionResult(False, f"Segment #{config.segment_id} no longer exists.")
        source = f"form:{submission.form_id}"
        if self.include:
            changed = services.add_static(segment, [contact.pk], origin="action", source=source)
            message = f"Added to “{segment.name}”." if changed else f"Already in “{segment.name}”."
        else:
            changed = services.remove_static(segment, [contact.pk], origin="action", source=source)
            message = f"Removed from “{segment.name}”." if changed else f"Was not in “{segment.name}”."
        return ActionResult(True, message, {"segment_id": segment.pk, "changed": bool(changed)})

    def run_batch(self, items, config: SegmentConfig) -> list[ActionResult]:
        """Every submission of the batch in one bulk change of the static members."""
        segment = Segment.objects.filter(pk=config.segment_id).first()
        if segment is None:
            return [ActionResult(False, f"Segment #{config.segment_id} no longer exists.") for _ in items]
        changed = set(services.set_static(segment, [contact.pk for _, contact in items], self.include,
                                          origin="action", source=f"form:{items[0][0].form_id}"))
        results = []
        for _, contact in items:
            done = contact.pk in changed
            changed.discard(contact.pk)  # the same contact twice: the second one finds it done
            if self.include:
                message = f"Added to “{segment.name}”." if done else f"Already in “{segment.name}”."
            else:
                message = f"Removed from “{segment.name}”." if done else f"Was not in “{segment.name}”."
            results.append(ActionResult(True, message, {"segment_id": segment.pk, "changed": done}))
        return results

    def config_choices(self, name: str, form: FormSpec) -> list[tuple[str, str]] | None:
        if name == "segment_id":
            return [(str(pk), label) for pk, label in Segment.objects.order_by("name").values_list("pk", "name")]
        return None

    def check(self, config: SegmentConfig, form: FormSpec) -> list[str]:
        if not Segment.objects.filter(pk=config.segment_id).exists():
            return [f"{self.label}: segment #{config.segment_id} does not exist."]
        return []

    def summary(self, config: SegmentConfig) -> str:
        name = Segment.objects.filter(pk=config.segment_id).values_list("name", flat=True).first()
        return f"{self.label}: “{name or f'#{config.segment_id} (deleted)'}”"


def segment_actions() -> list[SegmentAction]:
    return [
        SegmentAction(key="segments.add", label="Add to segment", config_schema=SegmentConfig,
                      description="Puts the contact in a segment (kept even if its filters do not match)."),
        SegmentAction(key="segments.remove", label="Remove from segment", config_schema=SegmentConfig,
                      include=False, description="Takes the contact out of a segment (kept out even if its "
                                                 "filters match)."),
    ]

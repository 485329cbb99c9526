from django.db import models


class ExamplePerson(models.Model):
    """A fact imported from Example CRM, under its natural key (integration, remote id)."""

    integration = models.ForeignKey("integrations.Integration", on_delete=models.CASCADE)
    remote_id = models.CharField(max_length=40)
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE)
    email = models.CharField(max_length=254)
    remote_updated_at = models.CharField(max_length=40)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["integration", "remote_id"], name="example_person_unique")]

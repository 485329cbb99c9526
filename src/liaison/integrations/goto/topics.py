"""The webhook topics GoTo publishes (``liaison.webhooks``), with an example of their ``data``."""

from __future__ import annotations

from liaison.core.contributions import WebhookTopic

TRAINING = {"trainingId": "123456789", "name": "Onboarding", "timeZone": "Europe/Paris",
            "times": [{"startDate": "2026-03-23T10:00:00Z", "endDate": "2026-03-23T11:00:00Z"}],
            "organizers": [{"givenName": "Ada", "surname": "Lovelace", "email": "ada@example.com",
                            "organizerKey": "8439885694023999999"}],
            "trainingKey": "1234567890123456789"}
TRAINING_REGISTRANT = {"email": "grace@example.com", "givenName": "Grace", "surname": "Hopper", "status": "APPROVED",
                       "registrationDate": "2026-03-01T09:00:00Z", "joinUrl": "https://global.gototraining.com/join/…",
                       "confirmationUrl": "https://global.gototraining.com/confirm/…",
                       "registrantKey": "3019527584166801154"}
WEBINAR = {"webinarKey": "2871871871871871871", "webinarID": "123456789", "subject": "Product tour",
           "description": "", "organizerKey": "8439885694023999999", "timeZone": "Europe/Paris",
           "times": [{"startTime": "2026-03-23T10:00:00Z", "endTime": "2026-03-23T11:00:00Z"}],
           "registrationUrl": "https://attendee.gotowebinar.com/register/…"}
WEBINAR_REGISTRANT = {"registrantKey": "3019527584166801154", "firstName": "Grace", "lastName": "Hopper",
                      "email": "grace@example.com", "status": "APPROVED", "registrationDate": "2026-03-01T09:00:00Z",
                      "joinUrl": "https://global.gotowebinar.com/join/…"}
ASSIST_ALERT = {"rule": {"id": 1, "name": "Low ratings", "kind": "low_rating", "threshold": 2},
                "account": {"id": 3, "name": "Support"},
                "session": {"sessionId": "1234567890", "agent": "Ada Lovelace", "customer": "Grace Hopper",
                            "customerEmail": "grace@example.com", "rating": 1, "resolution": "unresolved",
                            "feedback": "Still broken.", "contactId": 12}}

WEBHOOK_TOPICS = (
    WebhookTopic(key="goto.training.created", label="A training is created", group="GoTo",
                 description="New GoToTraining trainings (upcoming or live): a list of Training objects.",
                 scope_label="goto:<account id>", example=(TRAINING,)),
    WebhookTopic(key="goto.training.registrant_added", label="A registrant is added to a training", group="GoTo",
                 description="New registrants of a training: a list of Registrant objects.",
                 scope_label="goto:<account id>[:training:<trainingKey>]", example=(TRAINING_REGISTRANT,)),
    WebhookTopic(key="goto.webinar.created", label="A webinar is created", group="GoTo",
                 description="New GoToWebinar webinars (upcoming or live): a list of Webinar objects.",
                 scope_label="goto:<account id>", example=(WEBINAR,)),
    WebhookTopic(key="goto.webinar.registrant_added", label="A registrant is added to a webinar", group="GoTo",
                 description="New registrants of a webinar: a list of Registrant objects.",
                 scope_label="goto:<account id>[:webinar:<webinarKey>]", example=(WEBINAR_REGISTRANT,)),
    WebhookTopic(key="goto.assist.alert", label="GoToAssist rule notification", group="GoTo",
                 description="A GoToAssist rule fired (low rating, unresolved session, waiting queue); sent to the "
                             "rule's own address.", example=(ASSIST_ALERT,)),
)

"""The Celery application used at scale (``LIAISON_TASK_BACKEND=celery``).

Celery only transports ``django.tasks`` calls: one Celery task, ``liaison.run_task``,
imports the django.tasks Task by its module path and calls it. Retries, schedules and
run history stay in Liaison's JobRunner, so both modes behave the same.
"""

from __future__ import annotations

from celery import Celery
from django.conf import settings
from django.utils.module_loading import import_string

app = Celery("liaison")
app.conf.update(
    broker_url=settings.BROKER_URL,
    result_backend=settings.RESULT_BACKEND_URL or None,
    result_extended=True,
    task_default_queue="default",
    task_acks_late=True,  # a worker that dies mid-task leaves the message for another
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
)


@app.task(name="liaison.run_task")
def run_task(task_path: str, args: list, kwargs: dict):
    django_task = import_string(task_path)
    return django_task.call(*args, **kwargs)

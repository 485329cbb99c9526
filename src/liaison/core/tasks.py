"""The one place Liaison imports the ``django.tasks`` API from.

Django 6 ships it as ``django.tasks``; on Django 5.2 the ``django-tasks`` backport
provides it. Moving to Django 6 changes this module only.
"""

try:  # Django >= 6.0
    from django.tasks import (  # type: ignore[import-not-found]
        DEFAULT_TASK_BACKEND_ALIAS,
        TaskContext,
        TaskResult,
        TaskResultStatus,
        default_task_backend,
        task,
        task_backends,
    )
except ImportError:  # Django 5.2 with the backport
    from django_tasks import (
        DEFAULT_TASK_BACKEND_ALIAS,
        TaskContext,
        TaskResult,
        TaskResultStatus,
        default_task_backend,
        task,
        task_backends,
    )

__all__ = [
    "DEFAULT_TASK_BACKEND_ALIAS",
    "TaskContext",
    "TaskResult",
    "TaskResultStatus",
    "default_task_backend",
    "task",
    "task_backends",
]

"""A ``django.tasks`` backend that sends tasks through Celery (Redis or RabbitMQ)."""

from __future__ import annotations

from django.utils import timezone

from liaison.core.tasks import TaskResult, TaskResultStatus

try:  # Django >= 6.0
    from django.tasks.backends.base import BaseTaskBackend  # type: ignore[import-not-found]
    from django.tasks.exceptions import TaskResultDoesNotExist  # type: ignore[import-not-found]
except ImportError:
    from django_tasks.backends.base import BaseTaskBackend
    from django_tasks.exceptions import TaskResultDoesNotExist

from django_tasks.utils import get_random_id

_STATES = {
    "PENDING": TaskResultStatus.READY,
    "RECEIVED": TaskResultStatus.READY,
    "STARTED": TaskResultStatus.RUNNING,
    "RETRY": TaskResultStatus.RUNNING,
    "SUCCESS": TaskResultStatus.SUCCESSFUL,
    "FAILURE": TaskResultStatus.FAILED,
    "REVOKED": TaskResultStatus.FAILED,
}


class CeleryBackend(BaseTaskBackend):
    supports_defer = True
    supports_async_task = False
    supports_get_result = True
    supports_priority = False

    def enqueue(self, task, args, kwargs):
        from liaison.core.celery_app import app

        self.validate_task(task)
        result_id = get_random_id()
        app.send_task(
            "liaison.run_task",
            args=[task.module_path, list(args), dict(kwargs)],
            task_id=result_id,
            queue=task.queue_name,
            eta=task.run_after,
        )
        return self._result(task, result_id, TaskResultStatus.READY, list(args), dict(kwargs))

    def _result(self, task, result_id, status, args, kwargs):
        return TaskResult(
            task=task,
            id=result_id,
            status=status,
            enqueued_at=timezone.now(),
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )

    def get_result(self, result_id):
        from celery.result import AsyncResult
        from django.utils.module_loading import import_string

        from liaison.core.celery_app import app

        if not app.conf.result_backend:
            raise TaskResultDoesNotExist(result_id)
        async_result = AsyncResult(result_id, app=app)
        if async_result.name is None:
            raise TaskResultDoesNotExist(result_id)
        task_path, args, kwargs = async_result.args or ("", [], {})
        task = import_string(task_path)
        result = self._result(task, result_id, _STATES.get(async_result.state, TaskResultStatus.READY), args, kwargs)
        if async_result.successful():
            object.__setattr__(result, "_return_value", async_result.result)
        return result

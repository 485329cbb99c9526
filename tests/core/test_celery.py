"""One job on a real Celery worker, with the Redis broker and with RabbitMQ (LIAISON_TASK_BACKEND=celery)."""

from __future__ import annotations

import time
import uuid

import pytest

from liaison.core import jobs
from liaison.core.contributions import JobKind
from liaison.core.models import Job
from liaison.core.registry import registry

REDIS_URL = "redis://127.0.0.1:6379/0"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


def greet(ctx, name):
    ctx.log(f"hello {name}")
    return f"hello {name}"


@pytest.fixture
def redis_available():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")


def _rabbitmq_error() -> str | None:
    from kombu import Connection

    try:
        with Connection(RABBITMQ_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not available"
        return f"RabbitMQ is not reachable at {RABBITMQ_URL}: {exc}"
    return None


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_job_runs_on_a_real_celery_worker(settings, redis_available, broker):
    from celery.contrib.testing.worker import start_worker

    from liaison.core.celery_app import app

    if broker == "rabbitmq" and (error := _rabbitmq_error()):
        pytest.skip(error)
    # A queue of this test's own, so concurrent test runs sharing the broker never steal its message.
    queue = f"liaison-test-{uuid.uuid4().hex[:10]}"
    app.conf.broker_url = REDIS_URL if broker == "redis" else RABBITMQ_URL
    app.conf.result_backend = REDIS_URL  # results need a key-value store (python-stack.md)
    app.close()  # drop connections pooled for another broker by an earlier test
    app._after_fork()
    settings.TASKS = {"default": {"BACKEND": "liaison.core.celery_backend.CeleryBackend", "QUEUES": [queue]}}
    kind = JobKind(key="test.greet", label="Greet", run=greet, queue=queue)
    with registry.override(kind), start_worker(app, pool="solo", perform_ping_check=False, queues=[queue],
                                               shutdown_timeout=10):
        job = jobs.enqueue("test.greet", {"name": "Celery"})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status not in Job.ACTIVE:
                break
            time.sleep(0.2)
    assert job.status == "succeeded", (job.status, job.error, job.log)
    assert job.result == "hello Celery" and "hello Celery" in job.log
    assert job.worker  # claimed by the Celery worker's process

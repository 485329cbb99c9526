"""Django settings, read from environment variables only (docs/configuration.md lists them)."""

from __future__ import annotations

from liaison.core import config

VAR_DIR = config.var_dir()

SECRET_KEY = config.secret_key(VAR_DIR)
FERNET_KEYS = config.fernet_keys(VAR_DIR)
DEBUG = config.env_bool("LIAISON_DEBUG", False)
ALLOWED_HOSTS = config.env_list("LIAISON_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = config.env_list("LIAISON_CSRF_TRUSTED_ORIGINS")
# The public address of this installation, used in e-mails, embeds and OAuth redirects.
LIAISON_BASE_URL = config.env_str("LIAISON_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
LIAISON_DEMO = config.env_bool("LIAISON_DEMO", False)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "liaison.core",
    "liaison.users",
    "liaison.contacts",
    "liaison.emails",
    "liaison.segments",
    "liaison.webforms",
    "liaison.campaigns",
    "liaison.points",
    "liaison.webhooks",
    "liaison.integrations",
    "liaison.integrations.goto",
    "liaison.web",
    "liaison.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "liaison.users.middleware.AccessMiddleware",
    "liaison.users.middleware.TimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "liaison.urls"
WSGI_APPLICATION = "liaison.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "liaison.web.context_processors.navigation",
            ],
            "builtins": ["liaison.web.templatetags.liaison"],
        },
    }
]

DATABASES = {"default": config.database_settings(config.env_str("LIAISON_DATABASE_URL"), VAR_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "users.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = config.env_str("LIAISON_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
# Embedded mode serves app static files directly; no collectstatic step is needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = config.env_bool("LIAISON_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"

# Tasks: the django.tasks API (liaison.core.tasks), database queue embedded, Celery at scale.
TASK_BACKEND = config.env_str("LIAISON_TASK_BACKEND", "db").lower()
TASK_QUEUES = ["default", "sync", "mail"]
BROKER_URL = config.env_str("LIAISON_BROKER_URL", "redis://127.0.0.1:6379/0")
RESULT_BACKEND_URL = config.env_str("LIAISON_RESULT_BACKEND", "")
if TASK_BACKEND == "db":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": TASK_QUEUES}}
elif TASK_BACKEND == "celery":
    TASKS = {"default": {"BACKEND": "liaison.core.celery_backend.CeleryBackend", "QUEUES": TASK_QUEUES}}
elif TASK_BACKEND == "immediate":
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": TASK_QUEUES}}
else:
    raise config.ConfigError("LIAISON_TASK_BACKEND must be db, celery or immediate")

# Outbound API budgets: "sqlite" (a file under var/, shared by local processes),
# "redis" (shared by every machine), or "memory" (one process; tests).
RATE_LIMIT_BACKEND = config.env_str("LIAISON_RATE_LIMIT_BACKEND", "redis" if TASK_BACKEND == "celery" else "sqlite")
REDIS_URL = config.env_str("LIAISON_REDIS_URL", "redis://127.0.0.1:6379/0")
RATE_LIMIT_PREFIX = config.env_str("LIAISON_RATE_LIMIT_PREFIX", "liaison")

# Public forms: submissions per visitor address (shared by every process; "off" disables),
# and whether to read the address from X-Forwarded-For (only behind a proxy that sets it).
FORMS_RATE_LIMIT = config.env_str("LIAISON_FORM_RATE_LIMIT", "20/minute,300/hour")
FORMS_TRUST_X_FORWARDED_FOR = config.env_bool("LIAISON_TRUST_X_FORWARDED_FOR", False)

# Jobs
JOB_STALE_AFTER_SECONDS = config.env_int("LIAISON_JOB_STALE_AFTER", 900)
SCHEDULER_INTERVAL_SECONDS = config.env_int("LIAISON_SCHEDULER_INTERVAL", 5)

# E-mail
_email_backend = config.env_str("LIAISON_EMAIL_BACKEND", "smtp" if config.env_str("LIAISON_SMTP_HOST") else "file")
EMAIL_BACKEND = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "memory": "django.core.mail.backends.locmem.EmailBackend",
}.get(_email_backend)
if EMAIL_BACKEND is None:
    raise config.ConfigError("LIAISON_EMAIL_BACKEND must be smtp, console, file or memory")
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = config.env_str("LIAISON_SMTP_HOST", "localhost")
EMAIL_PORT = config.env_int("LIAISON_SMTP_PORT", 25)
EMAIL_HOST_USER = config.env_str("LIAISON_SMTP_USER")
EMAIL_HOST_PASSWORD = config.env_str("LIAISON_SMTP_PASSWORD")
EMAIL_USE_TLS = config.env_bool("LIAISON_SMTP_STARTTLS", False)
EMAIL_USE_SSL = config.env_bool("LIAISON_SMTP_SSL", False)
EMAIL_TIMEOUT = config.env_int("LIAISON_SMTP_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = config.env_str("LIAISON_DEFAULT_FROM_EMAIL", "Liaison <liaison@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Messages handed to the mail server over one connection; sends stuck "sending" this long are recovered.
EMAIL_BATCH_SIZE = config.env_int("LIAISON_EMAIL_BATCH_SIZE", 100)
EMAIL_INTERRUPTED_AFTER_SECONDS = config.env_int("LIAISON_EMAIL_INTERRUPTED_AFTER", 900)

NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_MAX_LIMIT = 1000

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": config.env_str("LIAISON_LOG_LEVEL", "INFO").upper()},
    "loggers": {
        # httpx logs full URLs (with query strings) at INFO: keep them out of the logs.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "django_tasks_db": {"level": "WARNING"},
        # One INFO line per task state change: the Job table and its log say it better.
        "django_tasks": {"level": "WARNING"},
    },
}

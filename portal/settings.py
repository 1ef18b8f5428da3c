"""Voxa settings: every value comes from the environment (see .env.example)."""

from pathlib import Path

import environ
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DATA_DIR = Path(env("DATA_DIR", default=str(BASE_DIR / "data")))

SECRET_KEY = env("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

DJANGO_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "rest_framework.authtoken",
    "channels",
]
LOCAL_APPS = [
    "accounts",
    "transcription",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The embedded default is an SQLite file; set DATABASE_URL for PostgreSQL.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'voxa.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout: the worker's progress writes must not lock out the web's reads.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "upload"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploads always stream to a temporary file; the size cap is enforced while streaming.
FILE_UPLOAD_HANDLERS = ["transcription.uploads.CappedTemporaryFileUploadHandler"]
FILE_UPLOAD_TEMP_DIR = env("FILE_UPLOAD_TEMP_DIR", default=None)
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("MAX_FILES_PER_UPLOAD", default=100)
MAX_UPLOAD_MB = env.int("MAX_UPLOAD_MB", default=2048)
MAX_AUDIO_HOURS = env.float("MAX_AUDIO_HOURS", default=6)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # `?format=` names an export format on /api/jobs/{id}/export/, not a renderer.
    "URL_FORMAT_OVERRIDE": None,
    # Request-parsing errors (too many files, a malformed body) answer JSON, not an HTML page.
    "EXCEPTION_HANDLER": "portal.exceptions.api_exception_handler",
}

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env("CHANNELS_PREFIX", default="voxa")},
    },
}

# Celery: late acks and one prefetched task so a crashed worker loses nothing; JSON only.
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=3)
# A running job whose worker has not reported for this long may be taken over: by a redelivery
# of its task, or by the janitor once its worker also fails to answer a ping.
JOB_STALE_AFTER_S = env.int("JOB_STALE_AFTER_S", default=600)
JOB_JANITOR_INTERVAL_S = env.float("JOB_JANITOR_INTERVAL_S", default=60)
WORKER_PING_TIMEOUT_S = env.float("WORKER_PING_TIMEOUT_S", default=5)
# Hard limit for one job: room for the longest audio allowed at a slow CPU pace.
JOB_TIME_LIMIT_S = env.int("JOB_TIME_LIMIT_S", default=int(600 + MAX_AUDIO_HOURS * 3600 * 2))
# Each job's own limit, scaled to its audio and counted from the end of any model download;
# the worker enforces it itself (the threads pool does not apply Celery's time limits).
JOB_TIME_BASE_S = env.int("JOB_TIME_BASE_S", default=900)
JOB_TIME_PER_AUDIO_S = env.float("JOB_TIME_PER_AUDIO_S", default=2.0)
_visibility_timeout = int(JOB_TIME_LIMIT_S * 1.5)
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# celery#7651: the visibility timeout must be set in all three places to take effect.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": _visibility_timeout}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": _visibility_timeout}
CELERY_VISIBILITY_TIMEOUT = _visibility_timeout
CELERY_TASK_TIME_LIMIT = JOB_TIME_LIMIT_S
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", default="transcription")
# Upkeep has a queue of its own, which every worker also consumes, so that it never waits behind
# a backlog of jobs.
MAINTENANCE_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.maintenance"
# Each bound by its own name: Celery would otherwise bind both to the default routing key, and
# every message would land in both queues.
CELERY_TASK_QUEUES = [
    Queue(name, routing_key=name) for name in (CELERY_TASK_DEFAULT_QUEUE, MAINTENANCE_QUEUE)
]
CELERY_TASK_ROUTES = {"transcription.requeue_stalled_jobs": {"queue": MAINTENANCE_QUEUE}}
# Celery beat, one per deployment, sends the janitor that requeues the jobs of workers that died
# for good (their host gone): no restart of theirs will. A late janitor is dropped, not piled up.
CELERY_BEAT_SCHEDULE = {
    "requeue-stalled-jobs": {
        "task": "transcription.requeue_stalled_jobs",
        "schedule": JOB_JANITOR_INTERVAL_S,
        "options": {"expires": JOB_JANITOR_INTERVAL_S},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# Recognition. Users pick among ASR_ENABLED_MODELS; where each preset's weights come from is set
# here only (a hub id or a local directory), never by a request.
ASR_MODEL = env("ASR_MODEL", default="whisper-base")
ASR_ENABLED_MODELS = env.list("ASR_ENABLED_MODELS", default=[ASR_MODEL])
# Extra or overridden presets: "name=hub-id-or-local-dir,other=/models/x".
ASR_MODEL_SOURCES = env.dict("ASR_MODEL_SOURCES", default={})
# Punctuation models (CT-Transformer) for presets whose model writes none: "preset=hub-id-or-dir";
# "preset=none" turns a built-in one off.
ASR_PUNCTUATION_SOURCES = env.dict("ASR_PUNCTUATION_SOURCES", default={})
ASR_DEVICE = env("ASR_DEVICE", default="auto")
ASR_DTYPE = env("ASR_DTYPE", default="fp16")
MODEL_CACHE_DIR = Path(env("MODEL_CACHE_DIR", default=str(DATA_DIR / "models")))
MAX_SEGMENT_S = env.float("MAX_SEGMENT_S", default=30)
# Audio seconds per model call, clips of all running jobs together (a Whisper clip counts 30 s);
# 0 picks 240 on CPU and 960 on CUDA (gpu_engine/device.py says why).
BATCH_SECONDS = env.float("BATCH_SECONDS", default=0)
# Processes that find speech (FSMN-VAD) for the worker's jobs: "auto" (one per core, up to 4) or a
# number (0: in each job's thread, where its Python frame loop competes for the GIL).
_vad_processes = env("VAD_PROCESSES", default="auto")
VAD_PROCESSES = None if _vad_processes == "auto" else int(_vad_processes)
# Jobs one worker runs at once (its Celery thread pool): their clips share the model's batches.
WORKER_SLOTS = env.int("WORKER_SLOTS", default=4)
# Progress is written to the database at most this often per job.
PROGRESS_MIN_INTERVAL_S = env.float("PROGRESS_MIN_INTERVAL_S", default=1.0)

# First administrator, created by `manage.py ensure_admin`.
ADMIN_USERNAME = env("ADMIN_USERNAME", default="admin")
ADMIN_PASSWORD = env("ADMIN_PASSWORD", default="")
ADMIN_EMAIL = env("ADMIN_EMAIL", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

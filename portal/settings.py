"""Voxa settings: every value comes from the environment (see .env.example)."""

import ipaddress
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF
from django.core.checks.security.base import _check_secret_key
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DATA_DIR = Path(env("DATA_DIR", default=str(BASE_DIR / "data")))

SECRET_KEY = env("SECRET_KEY", default="")
# Django's own rule (`check --deploy`): 50+ characters, 5+ distinct ones. Refusing to start beats
# signing sessions and password-reset links with a guessable key.
if not _check_secret_key(SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY is unset, the .env.example placeholder, or weak (Django asks for 50+ "
        "characters, 5+ of them different). "
        "scripts/run.sh writes a random one into .env; or set the output of "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
    )
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The address users open, e.g. https://voxa.example.com: its host is allowed and its origin trusted
# (CSRF, websockets); https there turns on secure cookies, HSTS and the redirect to https. Unset,
# the local run on plain http keeps working.
PUBLIC_URL = env("PUBLIC_URL", default="")
if PUBLIC_URL:
    _public = urlsplit(PUBLIC_URL)
    ALLOWED_HOSTS.append(_public.hostname)
    CSRF_TRUSTED_ORIGINS.append(f"{_public.scheme}://{_public.netloc}")
_https = PUBLIC_URL.startswith("https://")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _https
SECURE_SSL_REDIRECT = _https
# The container healthchecks (and a Prometheus on the containers' network) call the web process
# directly, over plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if _https else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
# Preloading is a promise to the browsers' lists that only the owner of the whole domain can make
# (and hard to take back), so it stays off and Django's reminder about it is silenced.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
# Reverse proxies in front of the web process (1 behind the bundled Nginx, which overwrites
# X-Forwarded-For with the client's address and sets X-Forwarded-Proto). 0 trusts neither header:
# a client could otherwise pick its own address for the login and API rate limits.
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXIES else None

DJANGO_APPS = [
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
    "axes",
    "csp",
]
LOCAL_APPS = [
    "accounts",
    "transcription",
    "operations",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in user's language and time zone (accounts.Preferences, else the browser's).
    "accounts.preferences.PreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during the login into its response.
    "axes.middleware.AxesMiddleware",
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
                "transcription.workspaces.workspace_context",
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
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "upload"
LOGOUT_REDIRECT_URL = "login"

# The pages speak English or simplified Chinese: the user's choice (accounts.Preferences, the
# header's switch), else what the browser asks for (Accept-Language).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(DATA_DIR / "media")))
# Behind Nginx (deploy/nginx/): stored audio is answered with X-Accel-Redirect once access is
# checked, and Nginx sends the file. Off, Django streams it (the local run without Nginx).
MEDIA_ACCEL_REDIRECT = env.bool("MEDIA_ACCEL_REDIRECT", default=False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Recordings live on the local disk under MEDIA_ROOT (one machine), or, once a bucket is named, in
# S3-compatible object storage that workers on other hosts reach too (django-storages; README:
# Workers on other hosts). Keys may come from *_FILE; unset, boto3 finds its own (AWS_ACCESS_KEY_ID,
# an instance role).
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    _secrets = environ.FileAwareEnv()
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "access_key": _secrets("AWS_S3_ACCESS_KEY_ID", default=None),
            "secret_key": _secrets("AWS_S3_SECRET_ACCESS_KEY", default=None),
            "location": env("AWS_LOCATION", default=""),
            "addressing_style": env("AWS_S3_ADDRESSING_STYLE", default=None),
            "signature_version": env("AWS_S3_SIGNATURE_VERSION", default=None),
            # Objects stay private (the bucket's policy), and a name is never silently reused.
            "default_acl": None,
            "file_overwrite": False,
            # An object being read is buffered whole: on disk past this size, not in memory (the
            # default, 0, never spills).
            "max_memory_size": 16 * 1024 * 1024,
        },
    }

# Uploads always stream to a temporary file; the size cap is enforced while streaming.
FILE_UPLOAD_HANDLERS = ["transcription.uploads.CappedTemporaryFileUploadHandler"]
FILE_UPLOAD_TEMP_DIR = env("FILE_UPLOAD_TEMP_DIR", default=None)
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("MAX_FILES_PER_UPLOAD", default=100)
MAX_UPLOAD_MB = env.int("MAX_UPLOAD_MB", default=2048)
MAX_AUDIO_HOURS = env.float("MAX_AUDIO_HOURS", default=6)

# Bounded memory per request (README, "Uploads"): no request body may pass REQUEST_MAX_BODY_MB
# (portal.body_limit answers 413 before Django reads it); a larger file comes in chunks of
# UPLOAD_CHUNK_MB through /api/uploads/. Django holds a body in memory up to
# FILE_UPLOAD_MAX_MEMORY_SIZE before spooling it to disk: one chunk stays in memory and is written
# once, to its partial file under PARTIAL_UPLOADS_DIR (keep it on MEDIA_ROOT's filesystem: a
# finished upload is renamed into storage, not copied).
REQUEST_MAX_BODY_MB = env.int("REQUEST_MAX_BODY_MB", default=32)
UPLOAD_CHUNK_BYTES = int(env.float("UPLOAD_CHUNK_MB", default=16) * 1024 * 1024)
if UPLOAD_CHUNK_BYTES > REQUEST_MAX_BODY_MB * 1024 * 1024:
    raise ImproperlyConfigured(
        "UPLOAD_CHUNK_MB must not pass REQUEST_MAX_BODY_MB: a chunk is a body."
    )
FILE_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_CHUNK_BYTES
PARTIAL_UPLOADS_DIR = Path(env("PARTIAL_UPLOADS_DIR", default=str(DATA_DIR / "partial-uploads")))
# A user's unfinished uploads are bounded (count, and bytes announced) so nobody fills the disk;
# beat removes those untouched for UPLOAD_EXPIRY_HOURS.
UPLOAD_PENDING_MAX_COUNT = env.int("UPLOAD_PENDING_MAX_COUNT", default=20)
UPLOAD_PENDING_MAX_MB = env.int("UPLOAD_PENDING_MAX_MB", default=10240)
UPLOAD_EXPIRY_HOURS = env.float("UPLOAD_EXPIRY_HOURS", default=24)

REST_FRAMEWORK = {
    # The token scheme first: DRF then answers a missing or expired token 401 (with
    # WWW-Authenticate), not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "accounts.throttling.AnonRateThrottle",
        "accounts.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON_RATE", default="120/min"),
        "user": env("THROTTLE_USER_RATE", default="1200/min"),
        "token": env("THROTTLE_TOKEN_RATE", default="20/hour"),
    },
    "NUM_PROXIES": TRUSTED_PROXIES,
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # `?format=` names an export format on /api/jobs/{id}/export/, not a renderer.
    "URL_FORMAT_OVERRIDE": None,
    # Request-parsing errors (too many files, a malformed body) answer JSON, not an HTML page.
    "EXCEPTION_HANDLER": "portal.errors.api_exception_handler",
}

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Shared by every web process: the API's rate limits count there.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_PREFIX", default="voxa-cache"),
    },
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # A socket timeout above channels_redis's 5 s blocking read (BZPOPMIN): redis-py 8's
            # default of 5 s ends that read first and closes every idle websocket
            # (django/channels_redis#422). redis-py 8 also caps a pool at 100 connections and
            # refuses the 101st at once: 200 websockets opening together got 500s (measured with
            # bench/portal_load.py), so the pool may hold as many as the web takes connections.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "max_connections": 1000}],
            "prefix": env("CHANNELS_PREFIX", default="voxa"),
        },
    },
}

# Celery: late acks and one prefetched task so a crashed worker loses nothing; JSON only.
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=3)
# A running job whose worker has not reported for this long may be taken over: by a redelivery
# of its task, or by the janitor once its worker also fails to answer a ping.
JOB_STALE_AFTER_S = env.int("JOB_STALE_AFTER_S", default=600)
# A message a worker took this long ago for a job still queued is taken for lost (its worker
# died before claiming the job): the janitor sends the job again.
JOB_CLAIM_GRACE_S = env.float("JOB_CLAIM_GRACE_S", default=60)
JOB_JANITOR_INTERVAL_S = env.float("JOB_JANITOR_INTERVAL_S", default=60)
WORKER_PING_TIMEOUT_S = env.float("WORKER_PING_TIMEOUT_S", default=5)
# How long staff's actions on the workers (operations.actions) wait for each worker's answer;
# loading a model, which may mean reading gigabytes (or downloading them), has longer. A worker
# silent past it is reported as such; what it was asked still happens once it gets there.
WORKER_CONTROL_TIMEOUT_S = env.float("WORKER_CONTROL_TIMEOUT_S", default=5)
WORKER_MODEL_LOAD_TIMEOUT_S = env.float("WORKER_MODEL_LOAD_TIMEOUT_S", default=60)
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
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _visibility_timeout,
    # A list per message priority 0-9 in Redis (kombu's default has four, 0 3 6 9, which would
    # merge neighbouring bands): a worker's BRPOP names the priority-0 list first, so a lower
    # number runs first, whatever the queue_order_strategy (which orders queues, not priorities).
    # transcription.queue says which band a job gets.
    "priority_steps": list(range(10)),
}
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
CELERY_TASK_ROUTES = {
    "transcription.requeue_stalled_jobs": {"queue": MAINTENANCE_QUEUE},
    "transcription.expire_uploads": {"queue": MAINTENANCE_QUEUE},
    "transcription.remove_expired_audio": {"queue": MAINTENANCE_QUEUE},
}
# Celery beat, one per deployment, sends the janitor that requeues the jobs of workers that died
# for good (their host gone): no restart of theirs will. A late janitor is dropped, not piled up.
CELERY_BEAT_SCHEDULE = {
    "requeue-stalled-jobs": {
        "task": "transcription.requeue_stalled_jobs",
        "schedule": JOB_JANITOR_INTERVAL_S,
        "options": {"expires": JOB_JANITOR_INTERVAL_S},
    },
    # Removes the chunked uploads abandoned for UPLOAD_EXPIRY_HOURS, and their partial files.
    "expire-uploads": {
        "task": "transcription.expire_uploads",
        "schedule": 3600,
        "options": {"expires": 3600},
    },
    # Deletes the audio that teams keep for audio_retention_days, once older; transcripts stay.
    "remove-expired-audio": {
        "task": "transcription.remove_expired_audio",
        "schedule": 3600,
        "options": {"expires": 3600},
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
# The speaker model of jobs that identify speakers: "resemblyzer" (offline, the default) or
# "campplus" (FunASR's CAM++, downloaded from the hub on first use, or from ASR_MODEL_SOURCES).
SPEAKER_MODEL = env.str("SPEAKER_MODEL", default="resemblyzer")
if SPEAKER_MODEL not in ("resemblyzer", "campplus"):
    raise ImproperlyConfigured(
        f"SPEAKER_MODEL={SPEAKER_MODEL!r}: it must be resemblyzer or campplus."
    )
# Jobs one worker runs at once (its Celery thread pool): their clips share the model's batches.
WORKER_SLOTS = env.int("WORKER_SLOTS", default=4)
# The worker's CPU priority below the web's (nice, 0-19): see transcription/tasks.py.
WORKER_NICE = env.int("WORKER_NICE", default=10)
# Each worker writes its status to Redis this often; it shows offline after three missed.
WORKER_HEARTBEAT_S = env.int("WORKER_HEARTBEAT_S", default=10)
# Progress is written to the database at most this often per job.
PROGRESS_MIN_INTERVAL_S = env.float("PROGRESS_MIN_INTERVAL_S", default=1.0)

# First administrator, created by `manage.py ensure_admin`.
ADMIN_USERNAME = env("ADMIN_USERNAME", default="admin")
ADMIN_PASSWORD = env("ADMIN_PASSWORD", default="")
ADMIN_EMAIL = env("ADMIN_EMAIL", default="")

# Accounts. API tokens expire TOKEN_TTL_HOURS after they are issued; logging out revokes them.
TOKEN_TTL = timedelta(hours=env.float("TOKEN_TTL_HOURS", default=7 * 24))
# django-axes: LOGIN_FAILURE_LIMIT failed logins (page or POST /api/token/) from one address for
# one username lock that pair out for LOGIN_COOLOFF_MINUTES; a success resets the count.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_COOLOFF_MINUTES", default=60))
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# Password reset needs outgoing e-mail: EMAIL_URL, e.g. smtp+tls://user:password@mail.example.com:587.
# Without it the reset pages answer 404 and the login page does not offer them.
EMAIL_URL = env("EMAIL_URL", default="")
PASSWORD_RESET_ENABLED = bool(EMAIL_URL)
if PASSWORD_RESET_ENABLED:
    vars().update(env.email_url("EMAIL_URL"))  # EMAIL_BACKEND, EMAIL_HOST...: django-environ's way
else:
    # Invitations are still sent: to the log, where whoever runs the portal can copy the link.
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="voxa@localhost")

# Teams. Open sign-up (anyone may create an account) is off: accounts come from the admin or from
# an invitation. Personal workspaces' quotas; unset: unlimited (a team's own are set in the admin).
ALLOW_SIGNUP = env.bool("ALLOW_SIGNUP", default=False)
PERSONAL_MONTHLY_AUDIO_HOURS = env.float("PERSONAL_MONTHLY_AUDIO_HOURS", default=None)
PERSONAL_STORAGE_GB = env.float("PERSONAL_STORAGE_GB", default=None)

# Content Security Policy (django-csp): scripts, styles and everything else from this origin
# only; no inline script or style anywhere (the page tests check it).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# Prometheus' /metrics (operations/metrics.py): "off" answers 404; "token" asks for
# `Authorization: Bearer METRICS_TOKEN` (or METRICS_TOKEN_FILE); "addresses" lets in only clients in
# METRICS_ALLOWED_ADDRESSES (CIDRs, e.g. 10.0.0.0/8,::1/128), the client address as the login
# throttling sees it (TRUSTED_PROXIES).
METRICS = env("METRICS", default="off")
METRICS_TOKEN = environ.FileAwareEnv()("METRICS_TOKEN", default="")
METRICS_ALLOWED_ADDRESSES = env.list("METRICS_ALLOWED_ADDRESSES", default=[])
if METRICS not in ("off", "token", "addresses"):
    raise ImproperlyConfigured(f"METRICS is {METRICS!r}: use off, token or addresses.")
if METRICS == "token" and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS=token needs a METRICS_TOKEN of 32 or more characters.")
for _network in METRICS_ALLOWED_ADDRESSES:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as error:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_ADDRESSES: {error}") from error

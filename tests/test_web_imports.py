"""The web process never imports the recognition stack: torch, funasr and faster-whisper are the
worker's (they cost seconds and gigabytes, and a web host may not have them)."""

import json
import subprocess
import sys

from tests.conftest import REPO

WORKER_ONLY = ("torch", "funasr", "faster_whisper", "ctranslate2")

# What the web does when it starts and serves: the ASGI application, every URL pattern, every
# app's ready() (signal receivers included) and the admin's registrations.
SERVE = f"""
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
import portal.asgi
from django.contrib import admin
from django.urls import get_resolver
get_resolver().url_patterns
admin.autodiscover()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {WORKER_ONLY!r})))
"""


def test_the_web_process_imports_none_of_the_recognition_stack():
    result = subprocess.run(
        [sys.executable, "-c", SERVE], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []

"""The pages in simplified Chinese and English, and dates in the user's time zone: the catalog
translates every marked string, the language follows the browser or the user's choice, the
API's refusals speak it too, and the time zone follows the browser or the preferences page."""

import shutil
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import polib
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import Invitation, Preferences, Role
from accounts.preferences import TIME_ZONE_COOKIE
from tests.conftest import api_client_for
from tests.factories import MembershipFactory, SucceededJobFactory, TeamFactory

pytestmark = pytest.mark.django_db

CATALOG = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
# What makemessages reads: the apps, templates and page scripts (not the venv, not tests).
SOURCES = ("manage.py", "portal", "accounts", "transcription", "operations", "gpu_engine")
SOURCES += ("templates", "static")
CHINESE = "zh-CN,zh;q=0.9"


def untranslated(po: polib.POFile) -> list[str]:
    return [
        entry.msgid
        for entry in po
        if not entry.obsolete
        and ("fuzzy" in entry.flags or not (entry.msgstr or any(entry.msgstr_plural.values())))
    ]


def catalogs_from_the_sources(root: Path) -> dict[str, polib.POFile]:
    """makemessages over a copy of the sources and the committed catalogs: what the catalogs
    would be with every string marked now."""
    for name in SOURCES:
        source = Path(settings.BASE_DIR) / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, root / name)
    shutil.copytree(settings.BASE_DIR / "locale", root / "locale")
    for domain in ("django", "djangojs"):
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "-d", domain],
            cwd=root,
            check=True,
            capture_output=True,
        )
    return {
        d: polib.pofile(root / "locale/zh_Hans/LC_MESSAGES" / f"{d}.po")
        for d in ("django", "djangojs")
    }


def test_every_marked_string_has_a_chinese_translation(tmp_path):
    catalogs = catalogs_from_the_sources(tmp_path)
    assert len(catalogs["django"]) > 200 and len(catalogs["djangojs"]) > 100
    missing = {domain: untranslated(po) for domain, po in catalogs.items()}
    assert missing == {"django": [], "djangojs": []}, (
        "Translate these in locale/zh_Hans/LC_MESSAGES (makemessages, then compilemessages)"
    )


def test_the_committed_catalogs_are_compiled():
    for domain in ("django", "djangojs"):
        po, mo = CATALOG / f"{domain}.po", CATALOG / f"{domain}.mo"
        assert mo.stat().st_mtime >= po.stat().st_mtime - 1, f"compilemessages: {domain}.mo is old"
        compiled = {entry.msgid: entry.msgstr for entry in polib.mofile(mo)}
        assert all(compiled.get(e.msgid) == e.msgstr for e in polib.pofile(po) if e.msgstr)


def test_a_chinese_browser_gets_the_login_page_in_chinese():
    page = Client().get(reverse("login"), HTTP_ACCEPT_LANGUAGE=CHINESE).content.decode()
    assert '<html lang="zh-Hans"' in page
    assert "登录" in page and "Log in" not in page
    english = Client().get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-GB").content.decode()
    assert '<html lang="en"' in english and "Log in" in english


def test_the_switch_is_remembered_for_the_user_in_any_browser(alice):
    first = Client()
    first.force_login(alice)
    answer = first.post(reverse("set_language"), {"language": "zh-hans", "next": "/history/"})
    assert answer.status_code == 302 and answer["Location"] == "/history/"
    assert Preferences.objects.get(user=alice).language == "zh-hans"

    other_browser = Client()  # no language cookie; the browser asks for English
    other_browser.force_login(alice)
    page = other_browser.get(reverse("upload"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="zh-Hans"' in page
    assert "转写音频" in page and "Transcribe audio" not in page


def test_an_anonymous_visitor_switches_with_a_cookie():
    visitor = Client()
    visitor.post(reverse("set_language"), {"language": "zh-hans", "next": "/accounts/login/"})
    page = visitor.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="zh-Hans"' in page and "用户名" in page


def test_the_api_refuses_in_the_askers_language(alice):
    client = api_client_for(alice)
    refused = client.get("/api/recordings/?workspace=nowhere", HTTP_ACCEPT_LANGUAGE="zh")
    assert refused.status_code == 404
    assert refused.json() == {"detail": "没有这个工作区：nowhere。"}
    english = client.get("/api/recordings/?workspace=nowhere", HTTP_ACCEPT_LANGUAGE="en")
    assert english.json() == {"detail": "No such workspace: nowhere."}
    # DRF's own messages come translated too.
    anonymous = Client().get("/api/options/", HTTP_ACCEPT_LANGUAGE="zh")
    assert anonymous.status_code == 401 and "身份认证信息未提供" in anonymous.json()["detail"]


def test_transcript_text_carries_its_language(alice):
    job = SucceededJobFactory(recording__owner=alice, detected_language="en")
    client = Client()
    client.force_login(alice)
    page = client.get(reverse("search"), {"q": "General"}, HTTP_ACCEPT_LANGUAGE=CHINESE)
    html = page.content.decode()
    assert '<html lang="zh-Hans"' in html
    assert '<span class="segment-text" lang="en">' in html
    assert job.text_language == "en"


def test_dates_follow_the_browsers_zone_then_the_chosen_one(alice):
    team = TeamFactory()
    MembershipFactory(team=team, user=alice, role=Role.OWNER)
    invitation, _ = Invitation.issue(
        team=team, email="carol@example.com", role=Role.MEMBER, invited_by=alice
    )
    client = Client()
    client.force_login(alice)
    url = reverse("team", args=[invitation.team.pk])
    utc = invitation.expires_at.strftime("%Y-%m-%d %H:%M")
    assert utc in client.get(url).content.decode()  # no zone known: settings.TIME_ZONE

    client.cookies[TIME_ZONE_COOKIE] = "Asia/Shanghai"
    page = client.get(url).content.decode()
    assert 'data-time-zone="Asia/Shanghai"' in page
    shanghai = invitation.expires_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert shanghai.strftime("%Y-%m-%d %H:%M") in page

    client.cookies[TIME_ZONE_COOKIE] = "Mars/Olympus_Mons"  # not a zone: ignored
    assert 'data-time-zone=""' in client.get(url).content.decode()

    saved = client.post(reverse("preferences"), {"language": "", "time_zone": "America/Lima"})
    assert saved.status_code == 302
    assert Preferences.objects.get(user=alice).time_zone == "America/Lima"
    client.cookies[TIME_ZONE_COOKIE] = "Asia/Shanghai"  # the chosen zone wins over the browser's
    assert 'data-time-zone="America/Lima"' in client.get(url).content.decode()


def test_the_preferences_page_refuses_an_unknown_zone(alice):
    client = Client()
    client.force_login(alice)
    answer = client.post(
        reverse("preferences"),
        {"language": "zh-hans", "time_zone": "Nowhere/Else"},
        HTTP_ACCEPT_LANGUAGE=CHINESE,
    )
    assert answer.status_code == 200
    assert "Nowhere/Else" in answer.content.decode()
    assert not Preferences.objects.filter(user=alice, time_zone="Nowhere/Else").exists()

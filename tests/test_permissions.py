"""The permission matrix: every route the URL resolver knows, every method it answers, for each
kind of visitor, with the exact status each one gets. The routes come from the resolver, not from
a list kept by hand: a route without a row fails `test_every_route_has_a_row`, so nothing new
ships unexamined.

The visitors, around one team ("Team") and one recording uploaded into it (public in the team):
- anonymous: not signed in;
- uploader: the team member who uploaded the recording;
- member, admin, owner: the team's other members, by role;
- outsider: a member of another team only;
- staff: a site administrator (superuser), member of no team. Staff get Django's admin and no
  more: workspace data of others answers them 404 like anyone else.

Objects everyone may reach (their own lists, uploads) exist per visitor; the rows say what each
gets on the uploader's objects. API calls carry the visitor's token, pages its session. The team
has one pending invitation, sent to the outsider's address: only the outsider may accept it, and
one hotword list, which its members read and its owners and admins change.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from asgiref.sync import async_to_sync
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token, TokenProxy
from rest_framework.test import APIClient

from accounts.models import Invitation, Membership, Role
from accounts.services import membership_add, team_create
from operations import live, workers
from operations.models import AuditEntry
from portal.asgi import application, websocket_urlpatterns
from tests.audio_files import speech
from tests.factories import RecordingFactory, SucceededJobFactory, UserFactory
from tests.test_websocket import HOST, ORIGIN, session_cookie
from transcription import editing, progress, uploads
from transcription.models import HotwordList

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

ANONYMOUS, UPLOADER, MEMBER, ADMIN, OWNER, OUTSIDER, STAFF = ROLES = (
    "anonymous", "uploader", "member", "admin", "owner", "outsider", "staff",
)  # fmt: skip
PASSWORD = "pw-for-tests"
CLIP = "en_librispeech_1995-1837-0001.wav"


def statuses(anonymous: int, **by_role: int) -> dict[str, int]:
    return {ANONYMOUS: anonymous, **by_role}


def team_sees(ok: int = 200) -> dict[str, int]:
    """The team's recording: its members see it; anyone else is told it does not exist."""
    return statuses(401, uploader=ok, member=ok, admin=ok, owner=ok, outsider=404, staff=404)


def team_steers(ok: int = 200) -> dict[str, int]:
    """Changing it: its uploader and the team's owners and admins; a member reads only."""
    return {**team_sees(ok), MEMBER: 403}


def team_manages(ok: int = 200) -> dict[str, int]:
    """A team's settings, members and invitations: its owners and admins change them."""
    return {**team_sees(ok), UPLOADER: 403, MEMBER: 403}


def team_owns(ok: int = 200) -> dict[str, int]:
    """Deleting a team, handing it over: its owners only."""
    return {**team_manages(ok), ADMIN: 403}


def invited(ok: int = 200, anonymous: int = 401) -> dict[str, int]:
    """The invitation, sent to the outsider's address: anyone else signed in is refused."""
    return {**everyone(403), ANONYMOUS: anonymous, OUTSIDER: ok}


def own(ok: int = 200) -> dict[str, int]:
    """The uploader's own object (their upload, their hotword list)."""
    return statuses(401, uploader=ok, member=404, admin=404, owner=404, outsider=404, staff=404)


def any_user(ok: int = 200, anonymous: int = 401) -> dict[str, int]:
    return statuses(anonymous, **{role: ok for role in ROLES[1:]})


def page(ok: int = 200) -> dict[str, int]:
    return any_user(ok, anonymous=302)  # to the login page


def page_of(cells: dict[str, int]) -> dict[str, int]:
    """As the API cells, for a page: anonymous visitors go to the login page."""
    return {**cells, ANONYMOUS: 302}


def everyone(status: int) -> dict[str, int]:
    return {role: status for role in ROLES}


def staff_only(ok: int = 200) -> dict[str, int]:
    return {**everyone(302), STAFF: ok}  # others: to the admin's login page


@dataclass
class World:
    users: dict[str, object]
    team: object
    recording: object
    job: object
    upload: object
    hotword_list: object
    group: object
    invitation: object  # to the team, for the outsider's address
    invitation_token: str
    team_hotword_list: object  # the team's, made by its owner


@dataclass(frozen=True)
class Call:
    method: str
    expected: dict[str, int]
    data: Callable[[World, str], object] | None = None  # (world, visitor)
    content_type: str | None = None
    headers: Callable[[World], dict] | None = None
    # Another object than the row's, named in the test's id: the route's kwargs for it.
    kwargs: Callable[[World], dict] | None = None
    on: str = ""
    # Brings the world to the state the call needs (only these cells pay for it).
    prepare: Callable[[World], None] | None = None


@dataclass(frozen=True)
class Row:
    calls: tuple[Call, ...]
    kwargs: Callable[[World], dict] = lambda world: {}
    url: Callable[[World], str] | None = None  # for the few routes without a name
    query: str = ""
    api: bool = False  # token, not session
    # A real worker runs meanwhile: the answer depends on one, and other tests may have left
    # theirs running or not.
    needs_worker: bool = False
    why: str = ""


LOAD_NO_MODEL = {"action": "load_model"}


def recording_pk(world: World) -> dict:
    return {"pk": world.recording.pk}


def job_pk(world: World) -> dict:
    return {"pk": world.job.pk}


def first_segment(world: World) -> dict:
    return {"pk": world.job.pk, "segment_id": world.job.segments.get(index=0).pk}


def two_speakers(world: World) -> None:
    """The job's lines said by S1 and S2."""
    world.job.segments.filter(index=0).update(speaker="S1")
    world.job.segments.filter(index=1).update(speaker="S2")


def edited_once(world: World) -> None:
    """S1 named: the transcript at version 1, with an earlier version to go back to."""
    two_speakers(world)
    world.job = editing.speaker_rename(job=world.job, version=0, speaker="S1", name="Alice")


def transcript_save(
    body: dict,
    *,
    method: str = "post",
    kwargs: Callable[[World], dict] = job_pk,
    prepare: Callable[[World], None] | None = None,
) -> Row:
    """A change of the job's transcript, made on version 0 unless `body` says otherwise."""
    data = {"version": 0, **body}
    return Row(
        (Call(method, team_steers(), data=lambda w, role: data, prepare=prepare),),
        kwargs=kwargs,
        api=True,
    )


def team_pk(world: World) -> dict:
    return {"pk": world.team.pk}


def team_list(world: World) -> dict:
    return {"pk": world.team_hotword_list.pk}


def team_member(role: str) -> Callable[[World], dict]:
    """A membership's route: the team, and the user (by visitor) whose membership it is."""
    return lambda w: {"pk": w.team.pk, "user_id": w.users[role].pk}


def api_team_member(role: str) -> Callable[[World], dict]:
    return lambda w: {"team_pk": w.team.pk, "user_id": w.users[role].pk}


def team_settings(world: World, role: str) -> dict:
    return {"name": "Renamed", "default_model": "", "default_language": "en"}


def signup_fields(world: World, role: str) -> dict:
    return {
        "username": "newcomer",
        "password1": "a-long-passphrase-9",
        "password2": "a-long-passphrase-9",
    }


def audio_file(world: World, role: str) -> dict:
    return {"files": speech(CLIP).open("rb"), "team": world.team.pk}


ROWS: dict[str, Row] = {
    # Pages
    "": Row((Call("get", page()),)),
    "history/": Row((Call("get", page()),)),
    "search/": Row((Call("get", page()),), query="q=General"),
    "hotwords/": Row((Call("get", page()),)),
    "recordings/<int:pk>/": Row((Call("get", page_of(team_sees())),), kwargs=recording_pk),
    "hotwords/<int:pk>/toggle/": Row(
        (
            Call("post", page_of(own(302))),
            Call("post", page_of(team_manages(302)), kwargs=team_list, on="team list"),
        ),
        kwargs=lambda w: {"pk": w.hotword_list.pk},
    ),
    "hotwords/<int:pk>/delete/": Row(
        (
            Call("post", page_of(own(302))),
            Call("post", page_of(team_manages(302)), kwargs=team_list, on="team list"),
        ),
        kwargs=lambda w: {"pk": w.hotword_list.pk},
    ),
    "workspace/": Row(
        (
            Call(
                "post",
                page_of(team_sees(302)),
                data=lambda w, role: {"workspace": w.team.pk, "next": "/history/"},
            ),
            Call("get", {**any_user(405), ANONYMOUS: 302}),
        ),
        why="switching to the team: its members go back to the page; others are told it does "
        "not exist",
    ),
    "recordings/<int:pk>/move/": Row(
        (
            Call("post", page_of(own(302)), data=lambda w, role: {"team": w.team.pk}),
            Call("get", {**any_user(405), ANONYMOUS: 302}),
        ),
        kwargs=lambda w: {"pk": RecordingFactory(owner=w.users[UPLOADER]).pk},
        why="a personal recording of the uploader's: only they see it, and move it into the team",
    ),
    # Team pages: a change done redirects (302); refused by the visitor's role, the team page
    # says why (403); the last-owner rule, 409.
    "teams/": Row(
        (Call("get", page()), Call("post", page(302), data=lambda w, role: {"name": "New"}))
    ),
    "teams/<int:pk>/": Row((Call("get", page_of(team_sees())),), kwargs=team_pk),
    "teams/<int:pk>/settings/": Row(
        (Call("post", page_of(team_manages(302)), data=team_settings),), kwargs=team_pk
    ),
    "teams/<int:pk>/delete/": Row(
        (Call("post", page_of(team_owns(302)), data=lambda w, role: {"confirm": "on"}),),
        kwargs=team_pk,
    ),
    "teams/<int:pk>/leave/": Row(
        (Call("post", page_of({**team_sees(302), OWNER: 409})),),
        kwargs=team_pk,
        why="the owner is the team's only one",
    ),
    "teams/<int:pk>/transfer/": Row(
        (
            Call(
                "post",
                page_of(team_owns(302)),
                data=lambda w, role: {"membership": w.team.memberships.get(user=w.users[ADMIN]).pk},
            ),
        ),
        kwargs=team_pk,
    ),
    "teams/<int:pk>/invitations/": Row(
        (
            Call(
                "post",
                page_of(team_manages(302)),
                data=lambda w, role: {"email": "new@example.com", "role": "member"},
            ),
        ),
        kwargs=team_pk,
    ),
    "teams/<int:pk>/invitations/<int:invitation_id>/revoke/": Row(
        (Call("post", page_of(team_manages(302))),),
        kwargs=lambda w: {"pk": w.team.pk, "invitation_id": w.invitation.pk},
    ),
    # The member's role: they may not promote themselves.
    "teams/<int:pk>/members/<int:user_id>/role/": Row(
        (Call("post", page_of(team_manages(302)), data=lambda w, role: {"role": "admin"}),),
        kwargs=team_member(MEMBER),
    ),
    # The uploader: a member may not remove them, the uploader may leave.
    "teams/<int:pk>/members/<int:user_id>/remove/": Row(
        (Call("post", page_of({**team_manages(302), UPLOADER: 302})),),
        kwargs=team_member(UPLOADER),
    ),
    # Signed in, only the invited address accepts. Anonymous visitors get the form to make an
    # account with it, which refuses: the outsider's address has an account, so log in.
    "invitations/<str:token>/": Row(
        (
            Call("get", invited(200, anonymous=200)),
            Call("post", invited(302, anonymous=200), data=signup_fields),
        ),
        kwargs=lambda w: {"token": w.invitation_token},
        why="anonymous: the invited address has an account already",
    ),
    # Accounts
    "accounts/login/": Row((Call("get", everyone(200)),)),
    "accounts/logout/": Row((Call("post", everyone(302)), Call("get", everyone(405)))),
    # Sign-up is off unless ALLOW_SIGNUP (tests/test_team_pages.py turns it on).
    "accounts/signup/": Row((Call("get", everyone(404)), Call("post", everyone(404)))),
    "accounts/password_change/": Row((Call("get", page()),)),
    "accounts/preferences/": Row(
        (
            Call("get", page()),
            Call("post", page(302), data=lambda w, role: {"language": "zh-hans"}),
        )
    ),
    "accounts/password_change/done/": Row((Call("get", page()),)),
    # Each user's own job-end e-mail threshold: saving answers with a redirect back.
    "accounts/notifications/": Row(
        (
            Call("get", page()),
            Call("post", page(302), data=lambda w, visitor: {"email_after_minutes": "30"}),
        )
    ),
    # Without EMAIL_URL there is no password reset at all.
    "accounts/password_reset/": Row((Call("get", everyone(404)),)),
    "accounts/password_reset/done/": Row((Call("get", everyone(404)),)),
    "accounts/reset/<uidb64>/<token>/": Row(
        (Call("get", everyone(404)),), kwargs=lambda w: {"uidb64": "MQ", "token": "set-password"}
    ),
    "accounts/reset/done/": Row((Call("get", everyone(404)),)),
    # Health: the same for everyone, nothing private in it.
    "healthz": Row((Call("get", everyone(200)),)),
    "readyz": Row(
        (Call("get", everyone(200)),),
        needs_worker=True,
        why="a worker answers, so ready, whoever asks",
    ),
    # Prometheus' metrics: a scraper's, not a user's (tests/test_metrics.py turns them on).
    "i18n/setlang/": Row(
        (
            Call("post", everyone(302), data=lambda w, role: {"language": "zh-hans"}),
            Call("get", everyone(405)),
        ),
        why="the header's language switch, before login too",
    ),
    "jsi18n/": Row((Call("get", everyone(200)),), why="the pages' translations, before login too"),
    "metrics": Row(
        (Call("get", everyone(404)),), why="METRICS is off by default: no route to anyone"
    ),
    # API
    "api/": Row((Call("get", any_user()),), api=True),
    "api/token/": Row(
        (
            Call(
                "post",
                {**any_user(200), ANONYMOUS: 400},
                data=lambda w, role: {"username": role * (role != ANONYMOUS), "password": PASSWORD},
            ),
            Call("get", {**any_user(405), ANONYMOUS: 405}),
        ),
        api=True,
    ),
    "api/options/": Row((Call("get", any_user()),), api=True),
    # The workers' statuses, for staff only (the API's 403, not the admin's login page).
    "api/workers/": Row((Call("get", {**any_user(403), STAFF: 200}),), api=True),
    "api/workers/<str:name>/": Row(
        (Call("get", {**any_user(403), STAFF: 404}),),
        kwargs=lambda w: {"name": "no-such-worker@nowhere"},
        api=True,
        why="staff: no worker of that name has reported",
    ),
    # The workers page, for staff only; others are refused as by the workers API.
    "workers/": Row((Call("get", page_of({**any_user(403), STAFF: 200})),)),
    # Staff's actions on the workers and the queue, and their audit log (the API's 403).
    "api/workers/actions/": Row(
        (Call("post", {**any_user(403), STAFF: 400}, data=lambda w, role: LOAD_NO_MODEL),),
        api=True,
        why="staff: load_model without a model is refused before anything is sent",
    ),
    "api/workers/<str:name>/actions/": Row(
        (Call("post", {**any_user(403), STAFF: 404}, data=lambda w, role: {"action": "pause"}),),
        kwargs=lambda w: {"name": "no-such-worker@nowhere"},
        api=True,
        why="staff: no worker of that name has reported",
    ),
    "api/queue/<int:job_id>/cancel/": Row(
        (Call("post", {**any_user(403), STAFF: 409}),),
        kwargs=lambda w: {"job_id": w.job.pk},
        api=True,
        why="staff: the job has already succeeded",
    ),
    "api/queue/<int:job_id>/retry/": Row(
        (Call("post", {**any_user(403), STAFF: 409}),),
        kwargs=lambda w: {"job_id": w.job.pk},
        api=True,
        why="staff: a succeeded job's transcript is its owner's",
    ),
    "api/audit/": Row((Call("get", {**any_user(403), STAFF: 200}),), api=True),
    # The waiting jobs in run order, for staff only.
    "api/queue/": Row((Call("get", {**any_user(403), STAFF: 200}),), api=True),
    "api/search/": Row((Call("get", any_user()),), query="q=General", api=True),
    "api/usage/": Row(
        (Call("get", team_sees()),),
        url=lambda w: f"{reverse('api:usage')}?workspace={w.team.pk}",
        api=True,
        why="a team's usage: its members read it",
    ),
    "api/^recordings/$": Row(
        (
            Call("get", any_user()),
            # Into the team: its members may; anyone else is told they are not in it.
            Call(
                "post",
                {**team_sees(201), OUTSIDER: 400, STAFF: 400},
                data=audio_file,
                content_type="multipart",
            ),
        ),
        api=True,
    ),
    "api/^recordings/(?P<pk>[^/.]+)/$": Row(
        (
            Call("get", team_sees()),
            Call("patch", team_steers(), data=lambda w, role: {"name": "renamed.wav"}),
            Call("put", any_user(405)),  # PATCH only
            Call("delete", team_steers(204)),
        ),
        kwargs=recording_pk,
        api=True,
    ),
    # Anyone signed in may ask; what they may not see or change is reported in the answer.
    "api/^recordings/bulk/$": Row(
        (
            Call(
                "post",
                any_user(),
                data=lambda w, role: {"action": "export", "ids": [w.recording.pk]},
            ),
        ),
        api=True,
    ),
    "api/^recordings/(?P<pk>[^/.]+)/audio/$": Row(
        (Call("get", team_sees()),), kwargs=recording_pk, api=True
    ),
    "api/^jobs/$": Row((Call("get", any_user()),), api=True),
    "api/^jobs/(?P<pk>[^/.]+)/$": Row((Call("get", team_sees()),), kwargs=job_pk, api=True),
    "api/^jobs/(?P<pk>[^/.]+)/cancel/$": Row(
        (Call("post", team_steers()),), kwargs=job_pk, api=True
    ),
    "api/^jobs/(?P<pk>[^/.]+)/export/$": Row(
        (Call("get", team_sees()),), kwargs=job_pk, query="format=srt", api=True
    ),
    "api/^jobs/(?P<pk>[^/.]+)/retry/$": Row(
        (Call("post", team_steers()),), kwargs=job_pk, api=True
    ),
    # Editing the transcript: each save names the version it was made on (0: unedited).
    "api/^jobs/(?P<pk>[^/.]+)/transcript/$": Row(
        (Call("get", team_sees()),), kwargs=job_pk, api=True
    ),
    "api/^jobs/(?P<pk>[^/.]+)/segments/(?P<segment_id>[0-9]+)/$": transcript_save(
        {"text": "Hi."}, method="patch", kwargs=first_segment
    ),
    "api/^jobs/(?P<pk>[^/.]+)/segments/(?P<segment_id>[0-9]+)/split/$": transcript_save(
        {"at": 5}, kwargs=first_segment
    ),
    "api/^jobs/(?P<pk>[^/.]+)/segments/(?P<segment_id>[0-9]+)/join/$": transcript_save(
        {}, kwargs=first_segment
    ),
    "api/^jobs/(?P<pk>[^/.]+)/speakers/rename/$": transcript_save(
        {"speaker": "S2", "name": "Bob"}, prepare=two_speakers
    ),
    "api/^jobs/(?P<pk>[^/.]+)/speakers/merge/$": transcript_save(
        {"speaker": "S2", "into": "S1"}, prepare=two_speakers
    ),
    "api/^jobs/(?P<pk>[^/.]+)/revisions/$": Row(
        (Call("get", team_sees(), prepare=edited_once),), kwargs=job_pk, api=True
    ),
    "api/^jobs/(?P<pk>[^/.]+)/restore/$": transcript_save(
        {"version": 1, "to": 0}, prepare=edited_once
    ),
    "api/^uploads/$": Row(
        (
            Call("get", any_user()),
            Call("post", any_user(201), data=lambda w, role: {"name": "x.wav", "size": 10}),
        ),
        api=True,
    ),
    "api/^uploads/(?P<pk>[^/.]+)/$": Row(
        (
            Call("get", own()),
            Call(
                "patch",
                own(),
                data=lambda w, role: b"0123456789",
                content_type="application/octet-stream",
                headers=lambda w: {"Upload-Offset": "0"},
            ),
            Call("delete", own(204)),
        ),
        kwargs=lambda w: {"pk": w.upload.pk},
        api=True,
    ),
    "api/^hotword-lists/$": Row(
        (
            Call("get", any_user()),
            Call("post", any_user(201), data=lambda w, role: {"name": "new", "words": "Voxa"}),
        ),
        api=True,
    ),
    "api/^hotword-lists/(?P<pk>[^/.]+)/$": Row(
        (
            Call("get", own()),
            Call("patch", own(), data=lambda w, role: {"words": "Voxa"}),
            Call("put", any_user(405)),  # PATCH only
            Call("delete", own(204)),
            Call("get", team_sees(), kwargs=team_list, on="team list"),
            Call(
                "patch",
                team_manages(),
                data=lambda w, role: {"words": "Voxa"},
                kwargs=team_list,
                on="team list",
            ),
            Call("delete", team_manages(204), kwargs=team_list, on="team list"),
        ),
        kwargs=lambda w: {"pk": w.hotword_list.pk},
        api=True,
    ),
    # Teams: anything of a team is 404 to non-members, 403 to a member whose role falls short.
    "api/^teams/$": Row(
        (
            Call("get", any_user()),
            Call("post", any_user(201), data=lambda w, role: {"name": "New"}),
        ),
        api=True,
    ),
    "api/^teams/(?P<pk>[^/.]+)/$": Row(
        (
            Call("get", team_sees()),
            Call("patch", team_manages(), data=lambda w, role: {"name": "Renamed"}),
            Call("put", any_user(405)),  # PATCH only
            Call("delete", team_owns(204)),
        ),
        kwargs=team_pk,
        api=True,
    ),
    "api/^teams/(?P<pk>[^/.]+)/transfer-ownership/$": Row(
        (Call("post", team_owns(), data=lambda w, role: {"user": w.users[ADMIN].pk}),),
        kwargs=team_pk,
        api=True,
        why="to the admin, who may not take it themselves",
    ),
    "api/^teams/(?P<team_pk>[0-9]+)/members/$": Row(
        (Call("get", team_sees()),), kwargs=lambda w: {"team_pk": w.team.pk}, api=True
    ),
    "api/^teams/(?P<team_pk>[0-9]+)/members/(?P<user_id>[0-9]+)/$": Row(
        (
            Call("get", team_sees()),
            # The member's role: they may not promote themselves.
            Call("patch", team_manages(), data=lambda w, role: {"role": "admin"}),
            Call("put", any_user(405)),  # PATCH only
            # Removing the member: the uploader may not; the member leaves.
            Call("delete", {**team_manages(204), MEMBER: 204}),
        ),
        kwargs=api_team_member(MEMBER),
        api=True,
    ),
    "api/^teams/(?P<team_pk>[0-9]+)/invitations/$": Row(
        (
            Call("get", team_manages()),
            Call(
                "post",
                team_manages(201),
                data=lambda w, role: {"email": "new@example.com", "role": "member"},
            ),
        ),
        kwargs=lambda w: {"team_pk": w.team.pk},
        api=True,
    ),
    "api/^teams/(?P<team_pk>[0-9]+)/invitations/(?P<pk>[^/.]+)/$": Row(
        (Call("delete", team_manages(204)),),
        kwargs=lambda w: {"team_pk": w.team.pk, "pk": w.invitation.pk},
        api=True,
    ),
    "api/invitations/<str:token>/accept/": Row(
        (Call("post", invited()), Call("get", any_user(405))),
        kwargs=lambda w: {"token": w.invitation_token},
        api=True,
    ),
    # Django's admin, for staff only.
    "admin/": Row((Call("get", staff_only()),)),
    "admin/login/": Row(
        (Call("get", {**everyone(200), STAFF: 302}),), why="staff go on to the admin's index"
    ),
    # Staff are logged out and sent on (LOGOUT_REDIRECT_URL); GET logs nobody out.
    "admin/logout/": Row((Call("post", everyone(302)), Call("get", {**everyone(302), STAFF: 405}))),
    "admin/password_change/": Row((Call("get", staff_only()),)),
    "admin/password_change/done/": Row((Call("get", staff_only()),)),
    "admin/autocomplete/": Row(
        (Call("get", staff_only(403)),), why="staff: refused without a field to complete"
    ),
    "admin/jsi18n/": Row((Call("get", staff_only()),)),
    "admin/r/<path:content_type_id>/<path:object_id>/": Row(
        (Call("get", staff_only(404)),),
        kwargs=lambda w: {
            "content_type_id": ContentType.objects.get_for_model(Group).pk,
            "object_id": w.group.pk,
        },
        why="staff: a group has no page on the site",
    ),
    "admin/auth/user/<id>/password/": Row(
        (Call("get", staff_only()),), kwargs=lambda w: {"id": w.users[OWNER].pk}
    ),
    "admin/^(?P<app_label>auth|axes|accounts|authtoken|transcription|operations)/$": Row(
        (Call("get", staff_only()),), kwargs=lambda w: {"app_label": "transcription"}
    ),
    "admin/(?P<url>.*)$": Row(
        (Call("get", staff_only(404)),),
        url=lambda w: "/admin/no-such-page/",
        why="staff: no such admin page",
    ),
}

# The rest of the admin: each model's pages, for staff only. Read from the resolver too.
ADMIN_MODEL_PAGES = {
    "changelist": 200, "add": 200, "history": 200, "delete": 200, "change": 200,
    None: 302,  # <object id>/ redirects to its change page
}  # fmt: skip
# The pages a model's admin refuses even staff (403).
REFUSED = {
    # axes' records are never added by hand
    **dict.fromkeys([AccessAttempt, AccessLog, AccessFailureLog], frozenset({"add"})),
    Invitation: {"add"},  # issued by the team API: its link is mailed, once
    Membership: {"add", "delete"},  # through accounts.services: an owner kept, sockets told
    # Listed only: the key is its primary key, so a page of one token would show it.
    TokenProxy: {"add", "change", "delete", "history"},
    AuditEntry: {"add", "delete"},  # written by operations.actions only, and kept
}


@dataclass(frozen=True)
class Route:
    pattern: str
    name: str | None
    callback: Callable
    methods: frozenset[str] = field(default=frozenset())


def routes() -> Iterator[Route]:
    def walk(patterns, prefix: str, namespace: str) -> Iterator[Route]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = ":".join(filter(None, (namespace, entry.namespace)))
                yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
                yield Route(prefix + str(entry.pattern), name, entry.callback)

    yield from walk(get_resolver().url_patterns, "", "")


def format_suffix(route: Route) -> bool:
    """DRF's `.json` twins of each API route: the same view, reached with a suffix."""
    return "(?P<format>" in route.pattern or "<drf_format_suffix:format>" in route.pattern


def model_admin_of(route: Route):
    return getattr(route.callback, "model_admin", None)


def api_methods(route: Route) -> set[str]:
    """The methods a DRF view answers other than 405: its actions, within http_method_names."""
    view = route.callback
    cls = view.cls
    allowed = set(cls.http_method_names) - {"head", "options", "trace"}
    actions = getattr(view, "actions", None)
    if actions is not None:
        return set(actions) & allowed
    return {method for method in allowed if hasattr(cls, method)}


def test_every_route_has_a_row():
    missing, methods_missing = [], []
    for route in routes():
        if format_suffix(route) or model_admin_of(route):
            continue
        row = ROWS.get(route.pattern)
        if row is None:
            missing.append(route.pattern)
        elif hasattr(route.callback, "cls"):
            tested = {call.method for call in row.calls}
            if untested := api_methods(route) - tested:
                methods_missing.append(f"{route.pattern}: {sorted(untested)}")
    assert missing == [], "routes without a row in the permission matrix"
    assert methods_missing == [], "methods without a cell"
    assert set(ROWS) <= {route.pattern for route in routes()}, "rows of routes that are gone"


def cells() -> Iterator[tuple[str, Row, Call, str]]:
    for pattern, row in ROWS.items():
        for call in row.calls:
            for role in ROLES:
                yield pattern, row, call, role


def admin_cells() -> Iterator[tuple[str, str, str]]:
    for route in routes():
        if model_admin_of(route):
            for role in ROLES:
                yield route.pattern, route.name, role


@pytest.fixture
def world(settings, tmp_path) -> World:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PARTIAL_UPLOADS_DIR = str(tmp_path / "partial")
    users = {role: UserFactory(username=role) for role in ROLES[1:]}
    users[STAFF].is_staff = users[STAFF].is_superuser = True
    users[STAFF].save()
    team = team_create(creator=users[OWNER], name="Team")
    for role, team_role in ((ADMIN, Role.ADMIN), (MEMBER, Role.MEMBER), (UPLOADER, Role.MEMBER)):
        membership_add(team=team, user=users[role], role=team_role)
    team_create(creator=users[OUTSIDER], name="Other team")
    recording = RecordingFactory(owner=users[UPLOADER], team=team, audio=CLIP)
    job = SucceededJobFactory(recording=recording)
    upload = uploads.upload_create(owner=users[UPLOADER], name="part.wav", size=10)
    hotword_list = HotwordList.objects.create(owner=users[UPLOADER], name="mine", words="Voxa")
    team_hotword_list = HotwordList.objects.create(
        owner=users[OWNER], team=team, name="product", words="Voxa"
    )
    # One of each model the admin pages show.
    group = Group.objects.create(name="group")
    AccessAttempt.objects.create(username="x", ip_address="127.0.0.9", failures_since_start=1)
    AccessLog.objects.create(username="x", ip_address="127.0.0.9")
    AccessFailureLog.objects.create(username="x", ip_address="127.0.0.9")
    Token.objects.create(user=users[MEMBER])
    AuditEntry.objects.create(
        actor=users[STAFF], actor_name=STAFF, action="pause", target="gpu@host", ok=True
    )
    invitation, invitation_token = Invitation.issue(
        team=team, email=users[OUTSIDER].email, role=Role.MEMBER, invited_by=users[OWNER]
    )
    return World(
        users,
        team,
        recording,
        job,
        upload,
        hotword_list,
        group,
        invitation,
        invitation_token,
        team_hotword_list,
    )


def client_for(world: World, role: str, *, api: bool):
    user = world.users.get(role)
    if api:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def send(world: World, row: Row, call: Call, role: str, url: str):
    client = client_for(world, role, api=row.api)
    data = call.data(world, role) if call.data else None
    headers = call.headers(world) if call.headers else {}
    kwargs: dict = {"headers": headers}
    if call.content_type == "multipart":
        kwargs["format"] = "multipart"
    elif call.content_type:
        kwargs["content_type"] = call.content_type
    elif data is not None and row.api:
        kwargs["format"] = "json"
    if row.query:
        url = f"{url}?{row.query}"
    return getattr(client, call.method)(url, data, **kwargs)


@pytest.mark.parametrize(
    ("pattern", "row", "call", "role"),
    list(cells()),
    ids=[
        f"{call.method} {pattern or '/'}{f' ({call.on})' if call.on else ''} as {role}"
        for pattern, _, call, role in cells()
    ],
)
def test_cell(world, pattern, row, call, role, request):
    if row.needs_worker:
        request.getfixturevalue("celery_worker")
    name = next(route.name for route in routes() if route.pattern == pattern)
    if call.prepare:
        call.prepare(world)
    kwargs = (call.kwargs or row.kwargs)(world)
    url = row.url(world) if row.url else reverse(name, kwargs=kwargs)
    response = send(world, row, call, role, url)
    assert response.status_code == call.expected[role], getattr(response, "content", b"")[:300]


def admin_object_id(model) -> object:
    return model._default_manager.order_by("pk").values_list("pk", flat=True).first()


@pytest.mark.parametrize(
    ("pattern", "name", "role"),
    list(admin_cells()),
    ids=[f"get {pattern} as {role}" for pattern, _, role in admin_cells()],
)
def test_admin_model_page(world, pattern, name, role):
    route = next(route for route in routes() if route.pattern == pattern)
    model = model_admin_of(route).model
    kind = name.rsplit("_", 1)[-1] if name else None
    kwargs = {"object_id": admin_object_id(model)} if "object_id" in pattern else {}
    if name:
        url = reverse(name, kwargs=kwargs)
    else:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        url = f"{url}{kwargs['object_id']}/"
    expected = ADMIN_MODEL_PAGES[kind]
    if kind in REFUSED.get(model, ()):
        expected = 403
    response = client_for(world, role, api=False).get(url)
    assert response.status_code == (expected if role == STAFF else 302)


# The websocket routes: who may open them, and who hears the team recording's progress, or a
# worker's status.
WEBSOCKET_ROWS = {
    "ws/jobs/": {
        **{role: "hears" for role in ROLES},
        ANONYMOUS: 4401,  # closed: anonymous sockets are refused
        OUTSIDER: "hears nothing",
        STAFF: "hears nothing",
    },
    # Staff only: anonymous sockets closed as above, other users with 4403.
    "ws/workers/": {**everyone(4403), ANONYMOUS: 4401, STAFF: "hears"},
}


def test_every_websocket_route_has_a_row():
    assert {str(route.pattern) for route in websocket_urlpatterns} == set(WEBSOCKET_ROWS)


def publish_team_progress(world: World) -> None:
    progress.publish(world.job)


def publish_worker_status(world: World) -> None:
    live.publish_worker(workers.entry("some-worker@somewhere", 0, None))


# What each route's socket is told meanwhile, and what its first message is on opening (if any).
WEBSOCKET_EVENTS = {
    "ws/jobs/": (publish_team_progress, None),
    "ws/workers/": (publish_worker_status, "workers"),
}


def hears(world: World, route: str, role: str) -> str | int:
    """What `role`'s socket on `route` gets while its event is sent."""
    user = world.users.get(role)
    headers = [HOST, ORIGIN, session_cookie(user)] if user else [HOST, ORIGIN]
    send_event, greeting = WEBSOCKET_EVENTS[route]

    async def listen():
        communicator = WebsocketCommunicator(application, f"/{route}", headers=headers)
        connected, code = await communicator.connect()
        if not connected:
            return code
        if greeting is not None:
            assert (await communicator.receive_json_from())["type"] == greeting
        await database_sync_to_async(send_event)(world)
        heard = not await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return "hears" if heard else "hears nothing"

    return async_to_sync(listen)()


def websocket_cells() -> Iterator[tuple[str, str]]:
    for route in WEBSOCKET_ROWS:
        for role in ROLES:
            yield route, role


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("route", "role"), list(websocket_cells()), ids=[f"{r} as {o}" for r, o in websocket_cells()]
)
def test_websocket_cell(world, route, role):
    assert hears(world, route, role) == WEBSOCKET_ROWS[route][role]

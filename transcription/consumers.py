from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from transcription import selectors
from transcription.progress import team_group, team_managers_group, user_group


class JobProgressConsumer(AsyncJsonWebsocketConsumer):
    """Pushes the events of the jobs the signed-in user may see (transcription.selectors):
    their own, and their teams'. Anonymous sockets are refused. When the user's teams or roles
    change, the socket joins and leaves groups to match without reconnecting, and until it has,
    it drops the events of teams it no longer belongs to."""

    groups_joined: frozenset[str] = frozenset()

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.user = user
        await self._follow_memberships()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The socket only pushes: whatever a client sends, JSON or not, text or binary, is
        ignored (the JSON consumer would raise on anything but JSON text, closing with 1011)."""

    async def job_progress(self, event: dict) -> None:
        team = event["payload"]["team"]
        if team is not None and team not in self.teams:
            return  # sent before this socket left the team's groups
        if event.get("uploader_copy") and team in self.managed:
            return  # heard through the team managers' group as well
        await self.send_json(event["payload"])

    # The places of waiting jobs the user sees moved: {"queue": "moved", "team": ...}, sent to
    # the same groups as those jobs' progress, and checked the same way.
    queue_moved = job_progress

    async def workspaces_changed(self, event: dict) -> None:
        await self._follow_memberships()

    async def _follow_memberships(self) -> None:
        self.teams, self.managed = await self._memberships()
        wanted = {
            user_group(self.user.pk),
            *map(team_group, self.teams),
            *map(team_managers_group, self.managed),
        }
        for group in wanted - self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        for group in self.groups_joined - wanted:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = frozenset(wanted)

    @database_sync_to_async
    def _memberships(self) -> tuple[set[int], set[int]]:
        teams = {row["team"] for row in selectors.member_team_ids(self.user)}
        managed = {row["team"] for row in selectors.managed_team_ids(self.user)}
        return teams, managed

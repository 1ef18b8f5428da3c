from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from operations import live, selectors


class WorkersConsumer(AsyncJsonWebsocketConsumer):
    """The workers page's feed, for site staff: every worker as the socket opens, then each
    status as its heartbeat sends it. Anonymous sockets are refused as the job sockets are
    (4401); signed-in users who are not staff with 4403."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        if not user.is_staff:
            await self.close(code=4403)
            return
        # Joined before the list is read, so that no status falls between the two.
        await self.channel_layer.group_add(live.WORKERS_GROUP, self.channel_name)
        await self.accept()
        workers = await sync_to_async(selectors.worker_list)()
        await self.send_json({"type": "workers", "workers": workers})

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(live.WORKERS_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The socket only pushes; what a client sends is ignored."""

    async def worker_status(self, event: dict) -> None:
        await self.send_json({"type": "worker", "worker": event["worker"]})

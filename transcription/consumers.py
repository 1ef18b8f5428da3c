from channels.generic.websocket import AsyncJsonWebsocketConsumer

from transcription.progress import user_group


class JobProgressConsumer(AsyncJsonWebsocketConsumer):
    """Pushes the signed-in user's own job events; anonymous sockets are refused."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The socket only pushes: whatever a client sends, JSON or not, text or binary, is
        ignored (the JSON consumer would raise on anything but JSON text, closing with 1011)."""

    async def job_progress(self, event: dict) -> None:
        await self.send_json(event["payload"])

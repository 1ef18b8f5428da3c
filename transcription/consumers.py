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

    async def job_progress(self, event: dict) -> None:
        await self.send_json(event["payload"])

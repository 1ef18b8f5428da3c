from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from operations.actions import MODEL_ACTIONS, WORKER_COMMANDS
from operations.models import AuditEntry


class WorkerActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=[action.value for action in WORKER_COMMANDS])
    # A model preset, for load_model and unload_model; which ones exist is the worker's answer.
    model = serializers.CharField(required=False, max_length=64)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["action"] in MODEL_ACTIONS and not data.get("model"):
            raise serializers.ValidationError(
                {"model": _("Name the model preset to load or unload.")}
            )
        return data


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = ["id", "created_at", "actor", "actor_name", "action", "target", "ok", "result"]

from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.defaults import (
    MAX_RETENTION_DAYS,
    defaults_refusal,
    language_choices,
    model_refusal,
)
from accounts.models import Invitation, Membership, Role, Team


class TeamSerializer(serializers.ModelSerializer):
    """A team as its members see it. `role` is the requesting user's; the quotas are set by the
    site's staff in the admin and read-only here."""

    role = serializers.CharField(source="my_role", read_only=True)
    default_language = serializers.ChoiceField(choices=language_choices(), default="auto")

    class Meta:
        model = Team
        fields = [
            "id",
            "name",
            "role",
            "default_model",
            "default_language",
            "default_itn",
            "default_identify_speakers",
            "audio_retention_days",
            "monthly_audio_hours",
            "storage_gb",
            "created_at",
        ]
        read_only_fields = ["id", "role", "monthly_audio_hours", "storage_gb", "created_at"]
        extra_kwargs = {
            "audio_retention_days": {
                "validators": [MinValueValidator(1), MaxValueValidator(MAX_RETENTION_DAYS)]
            },
        }

    def validate_name(self, name: str) -> str:
        if not name.strip():
            raise serializers.ValidationError(_("Give the team a name."))
        return name.strip()

    def validate_default_model(self, model: str) -> str:
        if refusal := model_refusal(model):
            raise serializers.ValidationError(refusal)
        return model

    def validate(self, attrs: dict) -> dict:
        current = self.instance
        model = attrs.get("default_model", current.default_model if current else "")
        language = attrs.get("default_language", current.default_language if current else "auto")
        if refusal := defaults_refusal(model, language):
            raise serializers.ValidationError({"default_language": refusal})
        return attrs


class MemberSerializer(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.get_username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = Membership
        fields = ["user", "username", "email", "role", "joined_at"]
        read_only_fields = ["user", "username", "email", "joined_at"]


class InvitationSerializer(serializers.ModelSerializer):
    """A pending invitation; its token is in the e-mail only, never here."""

    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)
    invited_by = serializers.CharField(
        source="invited_by.get_username", read_only=True, default=None
    )

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "invited_by", "created_at", "expires_at"]
        read_only_fields = ["id", "invited_by", "created_at", "expires_at"]


class TransferSerializer(serializers.Serializer):
    user = serializers.IntegerField(help_text="The member (user id) who becomes an owner.")

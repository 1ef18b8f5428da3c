"""The team pages' forms, the invitation page's account form and the sign-up form."""

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from accounts.defaults import (
    MAX_RETENTION_DAYS,
    defaults_refusal,
    language_choices,
    model_choices,
    model_refusal,
)
from accounts.models import Membership, Preferences, Role, Team
from accounts.preferences import time_zone_choices


class TeamCreateForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name"]
        labels = {"name": _("Team name")}


class TeamSettingsForm(forms.ModelForm):
    default_model = forms.ChoiceField(label=_("Default model"), required=False)
    default_language = forms.ChoiceField(label=_("Default language"))
    audio_retention_days = forms.IntegerField(
        label=_("Keep audio for (days)"),
        required=False,
        min_value=1,
        max_value=MAX_RETENTION_DAYS,
        help_text=_("Older recordings lose their audio (transcripts stay). Empty: kept for ever."),
    )

    class Meta:
        model = Team
        fields = [
            "name",
            "default_model",
            "default_language",
            "default_itn",
            "default_identify_speakers",
            "audio_retention_days",
        ]
        labels = {
            "name": _("Team name"),
            "default_itn": _("Write numbers as digits (ITN) by default"),
            "default_identify_speakers": _("Identify speakers by default"),
        }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        models = model_choices()
        current = self.instance.default_model
        if current and current not in dict(models):
            models.append((current, f"{current} (no longer enabled)"))
        self.fields["default_model"].choices = models
        self.fields["default_language"].choices = language_choices()
        self.fields["default_itn"].label_suffix = ""
        self.fields["default_identify_speakers"].label_suffix = ""

    def clean_default_model(self) -> str:
        model = self.cleaned_data["default_model"]
        if model != self.instance.default_model and (refusal := model_refusal(model)):
            raise forms.ValidationError(refusal)
        return model

    def clean(self) -> dict:
        cleaned = super().clean()
        if "default_model" in cleaned and "default_language" in cleaned:
            refusal = defaults_refusal(cleaned["default_model"], cleaned["default_language"])
            if refusal:
                self.add_error("default_language", refusal)
        return cleaned


def role_choices(*, owner_may: bool) -> list[tuple[str, str]]:
    """The roles one may hand out: owner only by owners."""
    return [(value, label) for value, label in Role.choices if owner_may or value != Role.OWNER]


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    role = forms.ChoiceField(label=_("Role"), initial=Role.MEMBER)

    def __init__(self, *args: object, owner_may: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices(owner_may=owner_may)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, label=_("Role"))


class TransferOwnershipForm(forms.Form):
    membership = forms.ModelChoiceField(
        queryset=Membership.objects.none(), label=_("New owner"), empty_label=None
    )

    def __init__(self, *args: object, team: Team, user: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["membership"]
        field.queryset = team.memberships.exclude(user=user).select_related("user")
        field.label_from_instance = lambda m: f"{m.user.get_username()} ({m.get_role_display()})"


class TeamDeleteForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Delete the team with all its recordings and transcripts"),
        label_suffix="",
        error_messages={"required": _("Tick the box to confirm: this cannot be undone.")},
    )


class InvitationSignupForm(forms.Form):
    """A new account for an invitation: its e-mail address is the invitation's. The username
    and password are checked by accounts.services.invitation_accept_as_new_user."""

    username = forms.CharField(
        max_length=150,
        help_text=_("Letters, digits and @/./+/-/_ only."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict:
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ."))
        return cleaned


class SignupForm(UserCreationForm):
    """Open sign-up (settings.ALLOW_SIGNUP): username, e-mail address, password twice."""

    email = forms.EmailField(label=_("E-mail address"), help_text=_("Team invitations come here."))

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ["username", "email"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("An account with this e-mail address exists already."))
        return email


class NotificationsForm(forms.ModelForm):
    class Meta:
        model = Preferences
        fields = ["email_after_minutes"]
        labels = {"email_after_minutes": _("E-mail me when a job that ran at least this many "
                                           "minutes ends")}  # fmt: skip
        help_texts = {"email_after_minutes": _("Leave empty for no e-mails.")}


class PreferencesForm(forms.ModelForm):
    """The preferences page: a blank choice follows the browser."""

    language = forms.ChoiceField(label=_("Language"), required=False)
    time_zone = forms.ChoiceField(label=_("Time zone"), required=False)

    class Meta:
        model = Preferences
        fields = ["language", "time_zone"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        browsers = [("", _("As my browser says"))]
        self.fields["language"].choices = browsers + list(settings.LANGUAGES)
        self.fields["time_zone"].choices = browsers + time_zone_choices()

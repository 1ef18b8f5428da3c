from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from transcription.hotwords import clean_hotwords
from transcription.models import HotwordList
from transcription.selectors import teams_for


class HotwordListForm(forms.ModelForm):
    """A new list of the user's own, or with `team` one of that team's (made by a manager)."""

    class Meta:
        model = HotwordList
        fields = ["name", "words", "active"]
        widgets = {"words": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "words": _("One word or phrase per line."),
            "active": _("Add to every new job."),
        }

    def __init__(self, *args, owner: AbstractBaseUser, team: Team | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.instance.owner = owner
        self.instance.team = team
        if team is not None:
            self.fields["active"].help_text = _("Add to every job of the team's recordings.")

    def clean_words(self) -> str:
        return "\n".join(clean_hotwords(self.cleaned_data["words"]))

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        # Names are unique per owner among personal lists and per team among a team's (the
        # model's constraints): checked here so that a clash is a form error, not a 500.
        team = self.instance.team
        if team is None:
            taken = HotwordList.objects.filter(owner=self.instance.owner, team__isnull=True)
            clash = _("You already have a list with this name.")
        else:
            taken = HotwordList.objects.filter(team=team)
            clash = _("The team already has a list with this name.")
        if taken.filter(name=name).exists():
            raise forms.ValidationError(clash)
        return name


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search your transcripts"),
        max_length=200,
        error_messages={"required": _("Type a word or phrase to search for.")},
    )


class RecordingMoveForm(forms.Form):
    """Into one of the user's teams: the choices are those teams, so no other can be named."""

    team = forms.ModelChoiceField(
        queryset=None,
        empty_label=None,
        error_messages={"invalid_choice": _("You are not a member of that team.")},
        widget=forms.Select(attrs={"data-testid": "move-team"}),
    )
    private = forms.BooleanField(
        required=False,
        label="Private (only you and the team's admins)",
        widget=forms.CheckboxInput(attrs={"data-testid": "move-private"}),
    )

    def __init__(self, *args, user: AbstractBaseUser, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams_for(user)

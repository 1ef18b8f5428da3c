from django import forms
from django.contrib.auth.models import AbstractBaseUser

from transcription.hotwords import clean_hotwords
from transcription.models import HotwordList
from transcription.selectors import teams_for


class HotwordListForm(forms.ModelForm):
    class Meta:
        model = HotwordList
        fields = ["name", "words", "active"]
        widgets = {"words": forms.Textarea(attrs={"rows": 4})}
        help_texts = {"words": "One word or phrase per line.", "active": "Add to every new job."}

    def __init__(self, *args, owner, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.instance.owner = owner

    def clean_words(self) -> str:
        return "\n".join(clean_hotwords(self.cleaned_data["words"]))

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        own_lists = HotwordList.objects.filter(owner=self.instance.owner, team__isnull=True)
        if own_lists.filter(name=name).exists():
            raise forms.ValidationError("You already have a list with this name.")
        return name


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Search your transcripts",
        max_length=200,
        error_messages={"required": "Type a word or phrase to search for."},
    )


class RecordingMoveForm(forms.Form):
    """Into one of the user's teams: the choices are those teams, so no other can be named."""

    team = forms.ModelChoiceField(
        queryset=None,
        empty_label=None,
        error_messages={"invalid_choice": "You are not a member of that team."},
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

from django import forms

from transcription.hotwords import clean_hotwords
from transcription.models import HotwordList


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

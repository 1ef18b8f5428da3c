from django import template

from accounts.models import Team
from transcription import quotas

register = template.Library()


@register.inclusion_tag("transcription/_usage.html")
def team_usage(team: Team) -> dict:
    """The team's usage this month against its limits, for its members' team page (the page
    checked membership: accounts' views stay unaware of recordings)."""
    return {"usage": quotas.usage(team)}

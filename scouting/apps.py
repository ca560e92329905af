from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoutingConfig(AppConfig):
    name = "scouting"
    verbose_name = _("Scouting")

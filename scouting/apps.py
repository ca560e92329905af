from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoutingConfig(AppConfig):
    name = "scouting"
    verbose_name = _("Scouting")

    def ready(self) -> None:
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in

        from crm import extensions

        from . import views

        extensions.register_timeline_provider(views.visit_timeline)
        extensions.register_panel_provider(views.dashboard_panels)
        # Remember the previous login before Django overwrites it: the manager's
        # dashboard shows the visits submitted since then.
        user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
        user_logged_in.connect(views.remember_previous_login, dispatch_uid="scouting.login")
        user_logged_in.connect(update_last_login, dispatch_uid="update_last_login")

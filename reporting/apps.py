from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = _("Impact reports")

    def ready(self) -> None:
        from crm import extensions

        from . import views

        extensions.register_panel_provider(views.report_panels)

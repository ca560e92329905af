from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("CRM core")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import roles

        post_migrate.connect(roles.sync_groups_after_migrate, sender=self)

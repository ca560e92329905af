from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("CRM core")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import extensions, roles
        from .views import note_timeline

        # After every app's migrations: role permissions may name models of apps that
        # migrate after crm (scouting, pipeline, ...). sync_groups is idempotent.
        post_migrate.connect(roles.sync_groups_after_migrate, dispatch_uid="crm.sync_groups")
        extensions.register_timeline_provider(note_timeline)

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from . import views

# The admin signs in through allauth, so its second factor cannot be skipped.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("", include("crm.web_urls")),
    path("", include("scouting.urls")),
    path("calendar/", include("scouting.calendar_urls")),
    path("pipeline/", include("pipeline.urls")),
    path("berichte/", include("reporting.urls")),
    path("data/", include("crm.dataio.urls")),
    path("api/", include("crm.api.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    path("healthz", views.healthz, name="healthz"),
]

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from . import views

urlpatterns = [
    path("", include("crm.web_urls")),
    path("data/", include("crm.dataio.urls")),
    path("api/", include("crm.api.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    path("healthz", views.healthz, name="healthz"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

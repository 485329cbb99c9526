from django.urls import include, path

from liaison.api import api

handler403 = "liaison.web.views.permission_denied"

urlpatterns = [
    path("", include("liaison.web.urls")),
    path("", include("liaison.users.urls")),
    path("", include("liaison.core.urls")),
    path("", include("liaison.contacts.urls")),
    path("", include("liaison.emails.urls")),
    path("", include("liaison.segments.urls")),
    path("", include("liaison.webforms.urls")),
    path("", include("liaison.campaigns.urls")),
    path("", include("liaison.points.urls")),
    path("", include("liaison.integrations.urls")),
    path("", include("liaison.webhooks.urls")),
    path("api/", api.urls),
]

from django.urls import include, path

from liaison.integrations import views

app_name = "integrations"

urlpatterns = [
    path("integrations/", views.integration_list, name="list"),
    path("integrations/add/<slug:spec_key>/", views.integration_create, name="create"),
    path("integrations/oauth/callback/", views.oauth_callback, name="oauth_callback"),
    path("integrations/<int:pk>/", views.integration_detail, name="detail"),
    path("integrations/<int:pk>/settings/", views.integration_settings, name="settings"),
    path("integrations/<int:pk>/check/", views.integration_check, name="check"),
    path("integrations/<int:pk>/sync/", views.integration_sync, name="sync"),
    path("integrations/<int:pk>/schedule/", views.integration_schedule, name="schedule"),
    path("integrations/<int:pk>/delete/", views.integration_delete, name="delete"),
    path("integrations/<int:pk>/connect/", views.oauth_connect, name="connect"),
    path("integrations/<int:pk>/disconnect/", views.oauth_disconnect, name="disconnect"),
    path("integrations/<int:pk>/mapping/", views.mapping, name="mapping"),
    path("integrations/<int:pk>/runs/", views.run_list, name="runs"),
    path("integrations/<int:pk>/runs/<int:run_id>/", views.run_detail, name="run"),
    path("integrations/<int:pk>/calls/", views.api_calls, name="calls"),
]


def _spec_patterns() -> list:
    """Each integration's own pages under /integrations/<key>/ (namespace: the spec's key)."""
    from liaison.core.contributions import IntegrationSpec
    from liaison.core.registry import registry

    return [path(f"integrations/{spec.key}/", include((spec.urlpatterns, spec.key)))
            for spec in registry.all(IntegrationSpec) if spec.urlpatterns]


urlpatterns += _spec_patterns()

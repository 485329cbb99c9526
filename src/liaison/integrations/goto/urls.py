from django.urls import path

from liaison.integrations.goto import views

# Mounted at /integrations/goto/ by the integration framework (namespace "integrations:goto").
urlpatterns = [
    path("<int:pk>/events/", views.event_list, name="events"),
    path("<int:pk>/events/<int:event_id>/", views.event_detail, name="event"),
    path("<int:pk>/events/<int:event_id>/sync/", views.event_sync, name="event_sync"),
    path("<int:pk>/sync/<slug:product>/", views.product_sync, name="product_sync"),
    path("<int:pk>/assist/", views.assist_list, name="assist"),
    path("<int:pk>/webhooks/", views.webhook_status, name="webhooks"),
    path("<int:pk>/webhooks/switch/", views.webhook_switch, name="webhook_switch"),
    path("webhooks/<str:token>/", views.webhook_receiver, name="webhook"),
]

from django.urls import path

from liaison.integrations.goto import support_views, views

# Mounted at /integrations/goto/ by the integration framework (namespace "integrations:goto").
urlpatterns = [
    path("<int:pk>/events/", views.event_list, name="events"),
    path("<int:pk>/events/<int:event_id>/", views.event_detail, name="event"),
    path("<int:pk>/events/<int:event_id>/sync/", views.event_sync, name="event_sync"),
    path("<int:pk>/sync/<slug:product>/", views.product_sync, name="product_sync"),
    path("<int:pk>/assist/", support_views.report, name="assist"),
    path("<int:pk>/assist/codes/", support_views.codes, name="assist_codes"),
    path("<int:pk>/assist/codes/<str:code>/cancel/", support_views.cancel_code, name="assist_code_cancel"),
    path("<int:pk>/assist/monitor/", support_views.monitor, name="assist_monitor"),
    path("assist/report/", support_views.report, name="assist_report"),
    path("assist/rules/", support_views.rule_list, name="assist_rules"),
    path("assist/rules/new/", support_views.rule_edit, name="assist_rule_new"),
    path("assist/rules/<int:rule_id>/", support_views.rule_edit, name="assist_rule"),
    path("assist/rules/<int:rule_id>/delete/", support_views.rule_delete, name="assist_rule_delete"),
    path("assist/contacts/<int:contact_id>/start/", support_views.start_session, name="assist_start"),
    path("assist/contacts/<int:contact_id>/code/", support_views.create_code, name="assist_code"),
    path("assist/sessions/<int:session_id>/send-link/", support_views.send_link, name="assist_send_link"),
    path("<int:pk>/webhooks/", views.webhook_status, name="webhooks"),
    path("<int:pk>/webhooks/switch/", views.webhook_switch, name="webhook_switch"),
    path("webhooks/<str:token>/", views.webhook_receiver, name="webhook"),
]

from django.urls import path, re_path

from liaison.emails import views

app_name = "emails"

TOKEN = r"(?P<token>[A-Za-z0-9_-]{6,40})"

urlpatterns = [
    path("emails/", views.email_list, name="list"),
    path("emails/new/", views.email_create, name="create"),
    path("emails/preview/", views.preview_draft, name="preview_draft"),
    path("emails/contacts/", views.contact_search, name="contact_search"),
    path("emails/send/", views.send_to_contact, name="send_to_contact"),
    path("emails/sends/<int:pk>/", views.send_detail, name="send"),
    path("emails/contact/<int:pk>/", views.contact_sends, name="contact_sends"),
    path("emails/<int:pk>/", views.email_detail, name="detail"),
    path("emails/<int:pk>/edit/", views.email_edit, name="edit"),
    path("emails/<int:pk>/delete/", views.email_delete, name="delete"),
    path("emails/<int:pk>/send/", views.email_send, name="send_one"),
    path("emails/<int:pk>/test/", views.email_test, name="test"),
    path("emails/<int:pk>/preview/", views.email_preview, name="preview"),
    path("emails/<int:pk>/broadcast/", views.broadcast_panel, name="broadcast"),
    path("emails/<int:pk>/broadcast/start/", views.broadcast_start, name="broadcast_start"),
    path("emails/<int:pk>/broadcast/pause/", views.broadcast_pause, name="broadcast_pause"),
    path("emails/<int:pk>/broadcast/resume/", views.broadcast_resume, name="broadcast_resume"),
    path("emails/<int:pk>/broadcast/cancel/", views.broadcast_cancel, name="broadcast_cancel"),
    # Public: in sent messages.
    re_path(rf"^t/o/{TOKEN}\.gif$", views.open_pixel, name="open"),
    re_path(rf"^t/c/{TOKEN}/(?P<index>[0-9]{{1,4}})/$", views.click, name="click"),
    re_path(rf"^u/{TOKEN}/$", views.unsubscribe, name="unsubscribe"),
    re_path(rf"^u/{TOKEN}/undo/$", views.unsubscribe_undo, name="unsubscribe_undo"),
    re_path(rf"^v/{TOKEN}/$", views.webview, name="webview"),
]

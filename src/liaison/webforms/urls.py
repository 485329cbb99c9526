from django.urls import path

from liaison.webforms import public, views

app_name = "webforms"

urlpatterns = [
    path("f/<slug:slug>/", public.form_page, name="public"),
    path("f/<slug:slug>/thanks/", public.thanks_page, name="thanks"),
    path("f/<slug:slug>/embed.js", public.embed_script, name="embed"),
    path("forms/", views.form_list, name="list"),
    path("forms/new/", views.form_create, name="create"),
    path("forms/builder/", views.builder_fragment, name="builder"),
    path("forms/<int:pk>/", views.form_detail, name="detail"),
    path("forms/<int:pk>/edit/", views.form_edit, name="edit"),
    path("forms/<int:pk>/delete/", views.form_delete, name="delete"),
    path("forms/<int:pk>/duplicate/", views.form_duplicate, name="duplicate"),
    path("forms/<int:pk>/submissions/", views.submission_list, name="submissions"),
    path("forms/<int:pk>/submissions/export.csv", views.submission_export, name="export"),
    path("forms/<int:pk>/submissions/<int:submission_id>/", views.submission_detail, name="submission"),
    path("forms/<int:pk>/submissions/<int:submission_id>/delete/", views.submission_delete,
         name="submission_delete"),
]

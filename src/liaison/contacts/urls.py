from django.urls import path

from liaison.contacts import views

app_name = "contacts"

urlpatterns = [
    path("contacts/", views.contact_list, name="list"),
    path("contacts/new/", views.contact_create, name="create"),
    path("contacts/export.csv", views.contact_export, name="export"),
    path("contacts/delete/", views.contact_bulk_delete, name="bulk_delete"),
    path("contacts/<int:pk>/", views.contact_detail, name="detail"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="edit"),
    path("contacts/<int:pk>/delete/", views.contact_delete, name="delete"),
    path("contacts/<int:pk>/timeline/", views.contact_timeline, name="timeline"),
    path("contacts/<int:pk>/note/", views.contact_note, name="note"),
    path("contacts/<int:pk>/do-not-contact/", views.contact_dnc, name="dnc"),
    path("companies/", views.company_list, name="companies"),
    path("companies/new/", views.company_create, name="company_create"),
    path("companies/<int:pk>/", views.company_detail, name="company"),
    path("companies/<int:pk>/edit/", views.company_edit, name="company_edit"),
    path("companies/<int:pk>/delete/", views.company_delete, name="company_delete"),
    path("fields/", views.field_list, name="fields"),
    path("fields/new/", views.field_create, name="field_create"),
    path("fields/<int:pk>/", views.field_edit, name="field_edit"),
    path("fields/<int:pk>/delete/", views.field_delete, name="field_delete"),
    path("imports/", views.import_list, name="imports"),
    path("imports/new/", views.import_upload, name="import_upload"),
    path("imports/<int:pk>/mapping/", views.import_mapping, name="import_mapping"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/errors.csv", views.import_errors_csv, name="import_errors"),
    path("imports/<int:pk>/delete/", views.import_delete, name="import_delete"),
]

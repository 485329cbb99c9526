from django.urls import path

from liaison.segments import views

app_name = "segments"

urlpatterns = [
    path("segments/", views.segment_list, name="list"),
    path("segments/new/", views.segment_create, name="create"),
    path("segments/rebuild/", views.rebuild_all, name="rebuild_all"),
    path("segments/builder/", views.builder_fragment, name="builder"),
    path("segments/filters/<str:key>/choices/", views.filter_choices, name="choices"),
    path("segments/members/add/", views.members_add_to, name="members_add_to"),
    path("segments/<int:pk>/", views.segment_detail, name="detail"),
    path("segments/<int:pk>/edit/", views.segment_edit, name="edit"),
    path("segments/<int:pk>/rebuild/", views.segment_rebuild, name="rebuild"),
    path("segments/<int:pk>/delete/", views.segment_delete, name="delete"),
    path("segments/<int:pk>/members/add/", views.members_add, name="members_add"),
    path("segments/<int:pk>/members/remove/", views.members_remove, name="members_remove"),
    path("segments/<int:pk>/members/reset/", views.members_reset, name="members_reset"),
]

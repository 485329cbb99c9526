from django.urls import path

from liaison.points import views

app_name = "points"

urlpatterns = [
    path("points/", views.rule_list, name="rules"),
    path("points/rules/new/", views.rule_create, name="rule_create"),
    path("points/rules/subjects/", views.rule_subjects, name="rule_subjects"),
    path("points/rules/<int:pk>/", views.rule_detail, name="rule"),
    path("points/rules/<int:pk>/edit/", views.rule_edit, name="rule_edit"),
    path("points/rules/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
    path("points/triggers/", views.trigger_list, name="triggers"),
    path("points/triggers/new/", views.trigger_create, name="trigger_create"),
    path("points/triggers/actions/", views.actions_fragment, name="actions"),
    path("points/triggers/evaluate/", views.triggers_evaluate, name="evaluate"),
    path("points/triggers/<int:pk>/", views.trigger_detail, name="trigger"),
    path("points/triggers/<int:pk>/edit/", views.trigger_edit, name="trigger_edit"),
    path("points/triggers/<int:pk>/delete/", views.trigger_delete, name="trigger_delete"),
]

from django.urls import path

from liaison.campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("campaigns/", views.campaign_list, name="list"),
    path("campaigns/new/", views.campaign_create, name="create"),
    path("campaigns/starts/", views.starts_fragment, name="starts"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="detail"),
    path("campaigns/<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("campaigns/<int:pk>/delete/", views.campaign_delete, name="delete"),
    path("campaigns/<int:pk>/publish/", views.campaign_publish, name="publish"),
    path("campaigns/<int:pk>/pause/", views.campaign_pause, name="pause"),
    path("campaigns/<int:pk>/resume/", views.campaign_resume, name="resume"),
    path("campaigns/<int:pk>/run/", views.campaign_run, name="run"),
    path("campaigns/<int:pk>/statistics/", views.campaign_stats, name="stats"),
    path("campaigns/<int:pk>/contacts/", views.enrollment_list, name="enrollments"),
    path("campaigns/<int:pk>/steps/new/", views.step_add, name="step_add"),
    path("campaigns/<int:pk>/steps/<int:step_id>/", views.step_edit, name="step_edit"),
    path("campaigns/<int:pk>/steps/<int:step_id>/delete/", views.step_delete, name="step_delete"),
    path("campaigns/<int:pk>/steps/<int:step_id>/move/", views.step_move, name="step_move"),
]

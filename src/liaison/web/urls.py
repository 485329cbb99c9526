from django.urls import path

from liaison.users import views as user_views
from liaison.web import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", user_views.login_view, name="login"),
    path("logout/", user_views.logout_view, name="logout"),
]

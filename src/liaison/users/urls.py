from django.urls import path

from liaison.users import views

app_name = "users"

urlpatterns = [
    path("users/", views.user_list, name="list"),
    path("users/new/", views.user_form, name="create"),
    path("users/<int:pk>/", views.user_form, name="edit"),
    path("account/tokens/", views.token_list, name="tokens"),
    path("account/tokens/new/", views.token_create, name="token_create"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]

from django.urls import path

from liaison.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("webhooks/", views.subscription_list, name="list"),
    path("webhooks/new/", views.subscription_new, name="new"),
    path("webhooks/<int:pk>/", views.subscription_detail, name="detail"),
    path("webhooks/<int:pk>/action/", views.subscription_action, name="action"),
    path("webhooks/deliveries/<int:pk>/", views.delivery_detail, name="delivery"),
    path("webhooks/deliveries/<int:pk>/redeliver/", views.delivery_redeliver, name="redeliver"),
]

from django.apps import AppConfig


class PointsConfig(AppConfig):
    name = "liaison.points"
    label = "points"
    verbose_name = "Points"

from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "liaison.campaigns"
    label = "campaigns"
    verbose_name = "Campaigns"

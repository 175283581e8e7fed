from django.urls import include, path

from . import api

urlpatterns = [
    path("me/", api.MeApi.as_view(), name="api_me"),
    path("organizations/", api.OrganizationListApi.as_view(), name="api_organization_list"),
    path("organizations/<int:pk>/", api.OrganizationDetailApi.as_view(), name="api_organization_detail"),
    path("outbox/messages/", api.OutboxListApi.as_view(), name="api_outbox_list"),
    path("outbox/messages/<int:pk>/resend/", api.OutboxResendApi.as_view(), name="api_outbox_resend"),
    path("", include("llo.reference.api_urls")),
]

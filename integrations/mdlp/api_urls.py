"""REST API of the MDLP reconciliation, mounted under /api/v1/ (docs/mdlp-reconciliation.md)."""

from django.urls import path

from . import api

urlpatterns = [
    path("mdlp/documents/", api.DocumentListApi.as_view(), name="api_mdlp_documents"),
    path("mdlp/documents/<int:pk>/", api.DocumentDetailApi.as_view(), name="api_mdlp_document"),
    path("mdlp/documents/<int:pk>/xml", api.DocumentXmlApi.as_view(), name="api_mdlp_document_xml"),
    path("mdlp/documents/<int:pk>/ticket", api.DocumentTicketApi.as_view(), name="api_mdlp_document_ticket"),
    path("mdlp/documents/<int:pk>/resend/", api.DocumentResendApi.as_view(), name="api_mdlp_document_resend"),
]

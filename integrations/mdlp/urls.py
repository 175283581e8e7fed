"""The reconciliation page (`/mdlp/…`), included from `config.urls`."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.documents, name="mdlp_documents"),
    path("<int:pk>/", views.document_detail, name="mdlp_document"),
    path("<int:pk>/xml", views.document_xml, name="mdlp_document_xml"),
    path("<int:pk>/ticket", views.document_ticket, name="mdlp_document_ticket"),
    path("<int:pk>/resend/", views.document_resend, name="mdlp_document_resend"),
]

"""Pages of incoming MDLP documents, mounted at /mdlp/incoming/ (config/urls.py)."""

from django.urls import path

from . import views_income

urlpatterns = [
    path("", views_income.incoming_list, name="mdlp_incoming"),
    path("<int:pk>/accept/", views_income.incoming_accept, name="mdlp_incoming_accept"),
    path("<int:pk>/ignore/", views_income.incoming_ignore, name="mdlp_incoming_ignore"),
]

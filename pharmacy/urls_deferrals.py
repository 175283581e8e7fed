"""The deadlines page of deferred service (`/pharmacy/deferrals/…`), included from `pharmacy.urls`."""

from django.urls import path

from . import views_deferrals as views

urlpatterns = [
    path("", views.deferrals, name="pharmacy_deferrals"),
    path("csv/", views.deferrals_csv, name="pharmacy_deferrals_csv"),
    path("<int:pk>/", views.deferral_detail, name="pharmacy_deferral"),
    path("<int:pk>/visits/", views.deferral_visit_record, name="pharmacy_deferral_visit"),
]

from django.urls import path

from . import views, views_new

urlpatterns = [
    path("prescriptions/", views.prescription_list, name="prescriptions"),
    path("prescriptions/new/", views_new.prescription_new, name="prescription_new"),
    path("prescriptions/new/drugs/", views_new.drug_search, name="prescription_drugs"),
    path("prescriptions/new/drug/", views_new.drug_picker, name="prescription_drug"),
    path("prescriptions/new/stock/", views_new.drug_stock, name="prescription_stock"),
    path("prescriptions/<int:pk>/", views.prescription_detail, name="prescription"),
    path("prescriptions/<int:pk>/print.pdf", views.prescription_print, name="prescription_print"),
    path("prescriptions/<int:pk>/cancel/", views.prescription_cancel, name="prescription_cancel"),
]

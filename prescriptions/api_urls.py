from django.urls import path

from . import api

urlpatterns = [
    path("prescriptions/", api.PrescriptionListCreateApi.as_view(), name="api_prescriptions"),
    path("prescriptions/<int:pk>/", api.PrescriptionDetailApi.as_view(), name="api_prescription"),
    path("prescriptions/<int:pk>/cancel/", api.PrescriptionCancelApi.as_view(), name="api_prescription_cancel"),
    path("prescriptions/<int:pk>/print/", api.PrescriptionPrintApi.as_view(), name="api_prescription_print"),
    path("staff/", api.StaffListApi.as_view(), name="api_staff"),
]

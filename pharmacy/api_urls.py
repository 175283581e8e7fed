from django.urls import path

from . import api

urlpatterns = [
    path("dispensations/", api.DispensationCreateApi.as_view(), name="api_dispensations"),
    path("dispensations/check/", api.ScanCheckApi.as_view(), name="api_dispensation_check"),
    path("dispensations/<int:pk>/", api.DispensationDetailApi.as_view(), name="api_dispensation"),
    path("stock/packs/", api.StockPacksApi.as_view(), name="api_stock_packs"),
    path("prescriptions/<int:pk>/defer/", api.PrescriptionDeferApi.as_view(), name="api_prescription_defer"),
    path("deferrals/", api.DeferralListApi.as_view(), name="api_deferrals"),
    path("deferrals/<int:pk>/visits/", api.DeferralVisitApi.as_view(), name="api_deferral_visits"),
]

from django.urls import path

from . import api

urlpatterns = [
    path("beneficiaries/", api.BeneficiaryLookupApi.as_view(), name="api_beneficiary_lookup"),
]

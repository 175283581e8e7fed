from django.urls import path

from . import api

urlpatterns = [
    path("catalogue/packages/", api.PackageListApi.as_view(), name="api_catalogue_packages"),
    path("catalogue/drugs/", api.DrugListApi.as_view(), name="api_catalogue_drugs"),
    path("catalogue/programs/", api.ProgramListApi.as_view(), name="api_catalogue_programs"),
    path("reference/<slug:book>/", api.ReferenceBookApi.as_view(), name="api_reference_book"),
]

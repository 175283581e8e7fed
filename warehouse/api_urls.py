from django.urls import path

from . import api

urlpatterns = [
    path("stock/", api.StockApi.as_view(), name="api_stock"),
]

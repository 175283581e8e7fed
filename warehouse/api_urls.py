from django.urls import path

from . import api

urlpatterns = [
    path("stock/", api.StockApi.as_view(), name="api_stock"),
    path("stock/documents/", api.DocumentListApi.as_view(), name="api_stock_documents"),
    path("stock/documents/<int:pk>/", api.DocumentDetailApi.as_view(), name="api_stock_document"),
    path("stock/documents/<int:pk>/scan/", api.ScanApi.as_view(), name="api_stock_document_scan"),
    path("stock/documents/<int:pk>/refuse/", api.RefuseApi.as_view(), name="api_stock_document_refuse"),
    path("stock/documents/<int:pk>/quantity/", api.QuantityApi.as_view(), name="api_stock_document_quantity"),
    path("stock/documents/<int:pk>/post/", api.PostApi.as_view(), name="api_stock_document_post"),
    path("stock/receipts/", api.ReceiptCreateApi.as_view(), name="api_stock_receipts"),
    path("stock/shipments/", api.ShipmentCreateApi.as_view(), name="api_stock_shipments"),
    path("stock/shipments/<int:pk>/ship/", api.ShipApi.as_view(), name="api_stock_shipment_ship"),
    path("stock/shipments/<int:pk>/receive/", api.ReceiveApi.as_view(), name="api_stock_shipment_receive"),
    path("stock/returns/", api.ReturnCreateApi.as_view(), name="api_stock_returns"),
    path("stock/write-offs/", api.WriteOffCreateApi.as_view(), name="api_stock_write_offs"),
    path("stock/inventories/", api.InventoryCreateApi.as_view(), name="api_stock_inventories"),
    path("stock/put-away/", api.PutAwayApi.as_view(), name="api_stock_put_away"),
    path("stock/boxes/", api.AggregateApi.as_view(), name="api_stock_boxes"),
    path("stock/boxes/disaggregate/", api.DisaggregateApi.as_view(), name="api_stock_disaggregate"),
]

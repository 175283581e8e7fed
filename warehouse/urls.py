from django.urls import path

from . import views, views_new, views_stock, views_storage

urlpatterns = [
    path("stock/", views_stock.stock_overview, name="stock_overview"),
    path("stock/incoming/", views_stock.incoming, name="stock_incoming"),
    path("stock/documents/", views.document_list, name="stock_documents"),
    path("stock/documents/<int:pk>/", views.document_detail, name="stock_document"),
    path("stock/documents/<int:pk>/scan/", views.document_scan, name="stock_document_scan"),
    path("stock/documents/<int:pk>/refuse/", views.document_refuse, name="stock_document_refuse"),
    path("stock/documents/<int:pk>/quantity/", views.document_quantity, name="stock_document_quantity"),
    path("stock/documents/<int:pk>/post/", views.document_post, name="stock_document_post"),
    path("stock/documents/<int:pk>/receive/", views.document_receive, name="stock_document_receive"),
    path("stock/documents/<int:pk>/differences/", views.inventory_differences, name="stock_differences"),
    path("stock/receipts/new/", views_new.receipt_new, name="stock_receipt_new"),
    path("stock/shipments/new/", views_new.shipment_new, name="stock_shipment_new"),
    path("stock/<slug:kind>/new/", views_new.document_new, name="stock_document_new"),
    path("stock/storage/", views_storage.addresses, name="stock_addresses"),
    path("stock/storage/addresses/<int:pk>/label.svg", views_storage.address_label_svg, name="stock_address_label"),
    path("stock/storage/put-away/", views_storage.put_away, name="stock_put_away"),
    path("stock/storage/boxes/new/", views_storage.aggregation, name="stock_aggregation"),
    path("stock/storage/boxes/new/add/", views_storage.box_add, name="stock_box_add"),
    path("stock/storage/boxes/open/", views_storage.disaggregation, name="stock_disaggregation"),
    path("stock/storage/boxes/<int:pk>/", views_storage.box_detail, name="stock_box"),
    path("stock/storage/boxes/<int:pk>/<str:symbol>", views_storage.box_label, name="stock_box_label"),
]

from django.urls import include, path

from . import views_desk

urlpatterns = [
    path("pharmacy/desk/", views_desk.desk_page, name="pharmacy_desk"),
    path("pharmacy/desk/open/", views_desk.desk_open, name="pharmacy_desk_open"),
    path("pharmacy/desk/find/", views_desk.desk_find, name="pharmacy_desk_find"),
    path("pharmacy/desk/<int:pk>/", views_desk.desk_rx, name="pharmacy_desk_rx"),
    path("pharmacy/desk/<int:pk>/scan/", views_desk.desk_scan, name="pharmacy_desk_scan"),
    path("pharmacy/desk/<int:pk>/item/", views_desk.desk_item, name="pharmacy_desk_item"),
    path("pharmacy/desk/<int:pk>/drop/", views_desk.desk_drop, name="pharmacy_desk_drop"),
    path("pharmacy/desk/<int:pk>/dispense/", views_desk.desk_dispense, name="pharmacy_desk_dispense"),
    path("pharmacy/desk/<int:pk>/defer/", views_desk.desk_defer, name="pharmacy_desk_defer"),
    path("pharmacy/dispensations/<int:pk>/", views_desk.dispensation_page, name="pharmacy_dispensation"),
    path("pharmacy/dispensations/<int:pk>/slip.pdf", views_desk.dispensation_slip, name="pharmacy_dispensation_slip"),
    path("pharmacy/deferrals/", include("pharmacy.urls_deferrals")),
]

from django.urls import path

from . import views, views_catalogue, views_nsi, views_programs

urlpatterns = [
    path("catalogue/", views_catalogue.catalogue, name="catalogue"),
    path("catalogue/drugs/<int:pk>/", views_catalogue.drug_detail, name="catalogue_drug"),
    path("catalogue/drugs/<int:pk>/flags/", views_catalogue.drug_flags, name="catalogue_drug_flags"),
    path("catalogue/drugs/<int:pk>/reset/", views_catalogue.drug_reset, name="catalogue_drug_reset"),
    path("catalogue/drugs/<int:pk>/include/", views_catalogue.drug_include, name="catalogue_drug_include"),
    path("catalogue/packages/<int:pk>/flags/", views_catalogue.package_flags, name="catalogue_package_flags"),
    path("catalogue/packages/<int:pk>/reset/", views_catalogue.package_reset, name="catalogue_package_reset"),
    path("programs/", views_programs.program_list, name="program_list"),
    path("programs/new/", views_programs.program_create, name="program_create"),
    path("programs/<int:pk>/", views_programs.program_detail, name="program_detail"),
    path("programs/<int:pk>/edit/", views_programs.program_edit, name="program_edit"),
    path("programs/<int:pk>/drug-search/", views_programs.program_drug_search, name="program_drug_search"),
    path("programs/<int:pk>/rows/add/", views_programs.program_row_add, name="program_row_add"),
    path("programs/rows/<slug:kind>/<int:pk>/end/", views_programs.program_row_end, name="program_row_end"),
    path("programs/rows/<slug:kind>/<int:pk>/delete/", views_programs.program_row_delete, name="program_row_delete"),
    path("reference/categories/", views.benefit_categories, name="benefit_categories"),
    path("reference/categories/<int:pk>/map/", views.benefit_category_map, name="benefit_category_map"),
    path("nsi/", views_nsi.nsi_dictionaries, name="nsi_dictionaries"),
    path("nsi/check/", views_nsi.nsi_check, name="nsi_check"),
    path("nsi/<int:pk>/", views_nsi.nsi_dictionary, name="nsi_dictionary"),
    path("nsi/<int:pk>/import/", views_nsi.nsi_import, name="nsi_import"),
    path("nsi/<int:pk>/mode/", views_nsi.nsi_mode, name="nsi_mode"),
    path("nsi/runs/<int:pk>/", views_nsi.nsi_run, name="nsi_run"),
]

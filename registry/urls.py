from django.urls import path

from . import views, views_admin, views_person, views_requests, views_sfr

urlpatterns = [
    path("register/", views.search, name="register_search"),
    path("register/persons/<int:pk>/", views_person.person_detail, name="register_person"),
    path("register/persons/<int:pk>/card.pdf", views_person.person_card_pdf, name="register_person_pdf"),
    path("register/persons/<int:pk>/rights/add/", views_person.right_add, name="register_right_add"),
    path("register/persons/<int:pk>/refusal/", views_person.refusal_set, name="register_refusal_set"),
    path("register/persons/<int:pk>/registers/", views_person.register_include, name="register_include"),
    path("register/rights/<int:pk>/close/", views_person.right_close, name="register_right_close"),
    path("register/requests/", views_requests.request_list, name="register_requests"),
    path("register/requests/new/", views_requests.request_new, name="register_request_new"),
    path("register/requests/<int:pk>/", views_requests.request_detail, name="register_request"),
    path("register/requests/<int:pk>/approve/", views_requests.request_approve, name="register_request_approve"),
    path("register/requests/<int:pk>/reject/", views_requests.request_reject, name="register_request_reject"),
    path("register/conflicts/", views_admin.conflicts, name="register_conflicts"),
    path("register/duplicates/", views_admin.duplicates, name="register_duplicates"),
    path("register/duplicates/merge/", views_admin.duplicates_merge, name="register_merge"),
    path("register/sfr/", views_sfr.sfr_imports, name="sfr_imports"),
    path("register/sfr/upload/", views_sfr.sfr_upload, name="sfr_upload"),
    path("register/sfr/soap/", views_sfr.sfr_soap, name="sfr_soap"),
    path("register/sfr/<int:pk>/", views_sfr.sfr_run, name="sfr_run"),
]

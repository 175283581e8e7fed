from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

handler403 = "llo.views.forbidden"
handler404 = "llo.views.not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
    path("api/v1/", include("llo.api_urls")),
    path("api/v1/", include("registry.api_urls")),
    path("api/v1/", include("warehouse.api_urls")),
    path("api/v1/", include("prescriptions.api_urls")),
    path("api/v1/", include("pharmacy.api_urls")),
    path("api/v1/", include("integrations.mdlp.api_urls")),
    path("mdlp/incoming/", include("integrations.mdlp.urls_income")),
    path("mdlp/", include("integrations.mdlp.urls")),
    path("", include("registry.urls")),
    path("", include("prescriptions.urls")),
    path("", include("warehouse.urls")),
    path("", include("pharmacy.urls")),
    path("", include("llo.urls")),
]

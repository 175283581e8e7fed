from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import health, views
from .forms import LoginForm

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="registration/login.html", authentication_form=LoginForm,
                                     redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("organizations/", views.organization_list, name="organization_list"),
    path("organizations/<int:pk>/", views.organization_detail, name="organization_detail"),
    path("outbox/", views.outbox_list, name="outbox_list"),
    path("outbox/<int:pk>/resend/", views.outbox_resend, name="outbox_resend"),
    path("audit/", views.audit_recent, name="audit_recent"),
    path("audit/<str:app_label>/<str:model_name>/<str:pk>/", views.audit_object, name="audit_object"),
    path("system/", views.system_status, name="system_status"),
    path("health/live", health.live, name="health_live"),
    path("health/ready", health.ready, name="health_ready"),
    path("", include("llo.reference.urls")),
]

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from . import services
from .models import ApiToken, Doctor, Organization, OutboxMessage, PharmacyAttachment, Region, User


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["short_name", "kind", "code", "ogrn", "inn", "mdlp_place_id", "is_active"]
    list_filter = ["kind", "region", "is_active"]
    search_fields = ["name", "short_name", "code", "ogrn", "inn"]
    raw_id_fields = ["parent"]


@admin.register(PharmacyAttachment)
class PharmacyAttachmentAdmin(admin.ModelAdmin):
    list_display = ["medical_org", "dispensing_point", "valid_from", "valid_to"]
    raw_id_fields = ["medical_org", "dispensing_point"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "last_name", "first_name", "role", "organization", "is_active"]
    list_filter = ["role", "is_active"]
    fieldsets = BaseUserAdmin.fieldsets + (("ЛЛО", {"fields": ("patronymic", "organization", "role", "position")}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + (("ЛЛО", {"fields": ("organization", "role")}),)
    raw_id_fields = ["organization"]


@admin.register(Doctor)
class DoctorAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "code", "organization", "may_prescribe_subsidized"]
    search_fields = ["last_name", "snils", "code"]
    raw_id_fields = ["organization", "subdivision", "user"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Keys are issued by `manage.py issue_api_token` (the key is shown once); here they are
    listed and revoked."""

    list_display = ["prefix", "name", "user", "organization", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = [f.name for f in ApiToken._meta.fields]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Отозвать выбранные ключи")
    def revoke(self, request, queryset):
        for token in queryset:
            services.api_token_revoke(token=token)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["id", "topic", "key", "status", "attempts", "available_at", "created_at"]
    list_filter = ["status", "topic"]
    search_fields = ["key"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]

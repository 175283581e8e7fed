from django.contrib import admin

from .models import NonWorkingDayOverride


@admin.register(NonWorkingDayOverride)
class NonWorkingDayOverrideAdmin(admin.ModelAdmin):
    """The ministry marks a day working or not over the federal calendar (`pharmacy.workdays`)."""

    list_display = ["date", "is_working", "reason"]
    list_filter = ["is_working"]
    date_hierarchy = "date"

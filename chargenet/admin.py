from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from chargenet.forms import AdminLoginForm
from chargenet.models import User

admin.site.login_form = AdminLoginForm


@admin.register(User)
class ChargeNetUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("ChargeNet", {"fields": ("role",)}))
    list_display = ("username", "email", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")

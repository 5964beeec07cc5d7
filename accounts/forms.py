from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import User
from accounts.selectors import membership_get


class TenantLoginForm(AuthenticationForm):
    """Sign in to the organization of the current host; other users are refused here."""

    def confirm_login_allowed(self, user: User) -> None:  # type: ignore[override]
        super().confirm_login_allowed(user)
        tenant = getattr(self.request, "tenant", None)
        if tenant is None or membership_get(user=user, tenant_id=tenant.id) is None:
            raise forms.ValidationError(
                "Please enter a correct email and password for this organization.", code="invalid_login"
            )


class InvitationAcceptForm(forms.Form):
    full_name = forms.CharField(max_length=200, required=False, label="Your name")
    password = forms.CharField(widget=forms.PasswordInput,
                               help_text="New here? Choose a password. Already have an account? Enter yours.")

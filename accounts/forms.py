"""Forms of the account pages: sign in, password reset, invitations, members and API keys.

Forms validate and shape input only; the services in `accounts.services` decide.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm

from accounts.lockout import Refusal, client_address, lockout_check, lockout_clear_account, lockout_fail
from accounts.models import Membership, User
from accounts.roles import KEY_SCOPES, Role, Scope
from accounts.selectors import membership_get
from tenants.models import Tenant


class TenantLoginForm(AuthenticationForm):
    """Sign in to the organization of the current host; other users are refused here.

    Throttled (accounts/lockout.py): while the account or the address has too many recent
    failures, every attempt is refused before the password is even checked.
    """

    refusal: Refusal | None = None

    def clean(self) -> dict[str, Any]:
        email, address = self.cleaned_data.get("username") or "", client_address(self.request)
        self.refusal = lockout_check(action="login", account=email, address=address)
        if self.refusal is not None:
            raise forms.ValidationError(self.refusal.message, code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            lockout_fail(action="login", account=email, address=address)
            raise
        lockout_clear_account(action="login", account=email)
        return cleaned

    def confirm_login_allowed(self, user: User) -> None:  # type: ignore[override]
        super().confirm_login_allowed(user)
        tenant = getattr(self.request, "tenant", None)
        if tenant is None or membership_get(user=user, tenant_id=tenant.id) is None:
            raise forms.ValidationError(
                "Please enter a correct email and password for this organization.", code="invalid_login"
            )


class TenantPasswordResetForm(PasswordResetForm):
    """Mail a reset link only to members of this host's organization.

    The page answers the same whatever the address, so it never tells a visitor who is a
    member (Django's view already redirects to the same "sent" page in every case).
    """

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def get_users(self, email: str) -> Iterator[User]:  # type: ignore[override]
        member_ids = set(Membership.objects.filter(tenant=self.tenant).values_list("user_id", flat=True))
        return (user for user in super().get_users(email) if user.id in member_ids)


class InvitationAcceptForm(forms.Form):
    full_name = forms.CharField(max_length=200, required=False, label="Your name")
    password = forms.CharField(widget=forms.PasswordInput,
                               help_text="New here? Choose a password. Already have an account? Enter yours.")


def _role_choices(*, allow_owner: bool) -> list[tuple[str, str]]:
    # Only an owner may hand out ownership; offering it to an admin would only earn an error.
    return [(value, label) for value, label in Role.choices if allow_owner or value != Role.OWNER]


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email")
    role = forms.ChoiceField(label="Role", initial=Role.VIEWER)

    def __init__(self, *args: Any, allow_owner: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = _role_choices(allow_owner=allow_owner)  # type: ignore[attr-defined]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, label="Role")


# Key scopes in the order a reader expects (weakest first), not a frozenset's arbitrary order.
KEY_SCOPE_CHOICES = [(value, label) for value, label in Scope.choices if value in KEY_SCOPES]


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name", help_text="Who uses it, e.g. “SCADA gateway”.")
    scopes = forms.MultipleChoiceField(
        choices=KEY_SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple, initial=[Scope.READ],
        label="Scopes", help_text="read: see data · predict: run scoring · write: change data · admin: manage.",
    )

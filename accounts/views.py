"""Browser pages of accounts: sign in and out, password reset and invitation acceptance (public
pages of a tenant host), and the organization's members and API keys (members only).

Views stay thin: they check who may act (`member_view`), validate a form, call one service of
`accounts.services` and render; a service's refusal is shown as its message.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import selectors, services, sign_in
from accounts.forms import (
    ApiKeyForm,
    InvitationAcceptForm,
    InvitationForm,
    RoleForm,
    TenantLoginForm,
    TenantPasswordResetForm,
)
from accounts.keys import sha256_hex
from accounts.lockout import Refusal, client_address, lockout_check, lockout_fail
from accounts.models import Invitation
from accounts.roles import Role, Scope
from pdm_saas.api.principals import request_membership, request_scopes
from pdm_saas.errors import NotFound, ServiceError
from pdm_saas.page_actions import run_action
from pdm_saas.web_access import member_view, page_actor
from tenants.selectors import tenant_link

# --- public pages of a tenant host ----------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = TenantLoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form: TenantLoginForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_invalid(form)
        return _too_many(response, form.refusal) if form.refusal else response


def _too_many(response: HttpResponse, refusal: Refusal) -> HttpResponse:
    response.status_code = 429
    response["Retry-After"] = str(refusal.retry_after)
    return response


class LogoutView(auth_views.LogoutView):
    """Sign out (POST only, Django's rule) and land on the login page saying so."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        # The session is flushed by now; the message travels in the messages cookie.
        messages.success(request, "You have signed out.")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    form_class = TenantPasswordResetForm  # type: ignore[assignment]
    success_url = reverse_lazy("accounts:password-reset-sent")

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "tenant": self.request.tenant}  # type: ignore[attr-defined]

    def form_valid(self, form: TenantPasswordResetForm) -> HttpResponse:  # type: ignore[override]
        # Every request counts, sent or not: the page never says whether the address is a member.
        email, address = form.cleaned_data["email"], client_address(self.request)
        refusal = lockout_check(action="password_reset", account=email, address=address)
        if refusal is not None:
            form.add_error(None, refusal.message)
            return _too_many(self.form_invalid(form), refusal)
        lockout_fail(action="password_reset", account=email, address=address)
        tenant = self.request.tenant  # type: ignore[attr-defined]
        # The link's address comes from the tenant's domain and the configured scheme and port:
        # Django would take it from the Host header, which whoever asks for the reset controls.
        self.extra_email_context = {"organization": tenant.name, "site_url": tenant_link(tenant=tenant, path="")}
        return super().form_valid(form)


@never_cache
def login_link_page(request: HttpRequest, token: str) -> HttpResponse:
    """Right after signup: the one-time link from the public host signs the new owner in here
    (accounts/sign_in.py). A used, expired or foreign link falls back to the sign-in form."""
    user = sign_in.login_link_user(token=token, tenant=request.tenant)  # type: ignore[attr-defined]
    if user is None:
        messages.error(request, "That sign-in link has expired or was already used: sign in with your email "
                                "and password.")
        return redirect("accounts:login")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")  # marks the link used
    messages.success(request, f"Welcome to {request.tenant.name}: your organization is ready.")  # type: ignore[attr-defined]
    return redirect("home")


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_sent.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


def _pending_invitation(request: HttpRequest, token: str) -> Invitation | None:
    invitation = selectors.invitation_pending_by_token_hash(token_hash=sha256_hex(token))
    if invitation is None or invitation.tenant_id != request.tenant.id:  # type: ignore[attr-defined]
        return None
    return invitation


@never_cache
def invitation_accept_page(request: HttpRequest, token: str) -> HttpResponse:
    invitation = _pending_invitation(request, token)
    form = InvitationAcceptForm(request.POST or None)
    if invitation is not None and request.method == "POST" and form.is_valid():
        try:
            membership = services.invitation_accept(tenant_id=request.tenant.id, token=token,  # type: ignore[attr-defined]
                                                    **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to {request.tenant.name}.")  # type: ignore[attr-defined]
            return redirect("home")
    status = 200 if invitation is not None else 410
    return render(request, "accounts/invitation_accept.html",
                  {"form": form, "invitation": invitation}, status=status)


# --- organization: members and invitations ------------------------------------------------


def _organization_page(request: HttpRequest, *, invite_form: InvitationForm | None = None,
                       accept_url: str = "", status: int = 200) -> HttpResponse:
    tenant_id = request.tenant.id  # type: ignore[attr-defined]
    membership = request_membership(request)
    is_owner = membership is not None and membership.role == Role.OWNER
    context = {
        "members": selectors.membership_list(tenant_id=tenant_id),
        "invitations": selectors.invitation_pending_list(tenant_id=tenant_id),
        "invite_form": invite_form or InvitationForm(allow_owner=is_owner),
        "role_choices": [(v, label) for v, label in Role.choices if is_owner or v != Role.OWNER],
        "is_owner": is_owner,
        "accept_url": accept_url,
    }
    return render(request, "accounts/organization.html", context, status=status)


@member_view()
def organization(request: HttpRequest) -> HttpResponse:
    return _organization_page(request)


@never_cache
@member_view(write=Scope.ADMIN)
@require_POST
def invitation_create_page(request: HttpRequest) -> HttpResponse:
    actor = page_actor(request)
    form = InvitationForm(request.POST, allow_owner=actor.role == Role.OWNER)
    if not form.is_valid():
        return _organization_page(request, invite_form=form, status=400)
    try:
        issued = services.invitation_create(actor=actor, **form.cleaned_data)
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return _organization_page(request, invite_form=form, status=400)
    # The link is rendered in this response only (not stored, not redirected to): mail may not
    # be configured, so the admin may have to pass it on by hand.
    messages.success(request, f"Invitation sent to {issued.invitation.email}.")
    url = services.invitation_accept_url(invitation=issued.invitation, token=issued.token)
    return _organization_page(request, accept_url=url)


@member_view(write=Scope.ADMIN)
@require_POST
def member_role_page(request: HttpRequest, pk: int) -> HttpResponse:
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
        return redirect("accounts:organization")
    return run_action(
        request,
        lambda: services.member_role_change(actor=page_actor(request), membership_id=pk,
                                            role=form.cleaned_data["role"]),
        success=lambda changed: f"{changed.user.email} is now {changed.get_role_display()}.",
        redirect_to=reverse("accounts:organization"), not_found_is_404=True)


@member_view(write=Scope.ADMIN)
@require_POST
def member_remove_page(request: HttpRequest, pk: int) -> HttpResponse:
    own = request_membership(request)
    try:
        services.member_remove(actor=page_actor(request), membership_id=pk)
    except NotFound as exc:  # another tenant's id looks like no id at all
        raise Http404(exc.message) from exc
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:organization")
    if own is not None and own.id == pk:  # they removed themself: nothing here is theirs any more
        logout(request)
        messages.success(request, "You left the organization.")
        return redirect("accounts:login")
    messages.success(request, "Member removed.")
    return redirect("accounts:organization")


@member_view(write=Scope.ADMIN)
@require_POST
def invitation_revoke_page(request: HttpRequest, pk: int) -> HttpResponse:
    tenant_id = request.tenant.id  # type: ignore[attr-defined]
    return run_action(request, lambda: services.invitation_revoke(tenant_id=tenant_id, invitation_id=pk),
                      success="Invitation revoked.", redirect_to=reverse("accounts:organization"),
                      not_found_is_404=True)


# --- API keys -------------------------------------------------------------------------------


def _api_keys_page(request: HttpRequest, *, form: ApiKeyForm | None = None, raw_key: str = "",
                   status: int = 200) -> HttpResponse:
    keys = list(selectors.api_key_list(tenant_id=request.tenant.id))  # type: ignore[attr-defined]
    capped = {key.id: sorted(selectors.api_key_scopes(key)) for key in keys
              if key.revoked_at is None and selectors.api_key_scopes(key) != frozenset(key.scopes)}
    context = {
        "keys": [(key, capped.get(key.id)) for key in keys],
        "form": form or ApiKeyForm(),
        "raw_key": raw_key,
    }
    return render(request, "accounts/api_keys.html", context, status=status)


@member_view(read=Scope.ADMIN, write=Scope.ADMIN)
def api_keys(request: HttpRequest) -> HttpResponse:
    return _api_keys_page(request)


@never_cache
@member_view(read=Scope.ADMIN, write=Scope.ADMIN)
@require_POST
def api_key_create_page(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _api_keys_page(request, form=form, status=400)
    try:
        issued = services.api_key_create(tenant=request.tenant, created_by_id=page_actor(request).user_id,  # type: ignore[attr-defined]
                                         holder_scopes=request_scopes(request), **form.cleaned_data)
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return _api_keys_page(request, form=form, status=400)
    # Shown once, in this response: never in the session, a URL or a log.
    return _api_keys_page(request, raw_key=issued.raw)


@member_view(read=Scope.ADMIN, write=Scope.ADMIN)
@require_POST
def api_key_revoke_page(request: HttpRequest, pk: int) -> HttpResponse:
    tenant_id = request.tenant.id  # type: ignore[attr-defined]
    return run_action(request, lambda: services.api_key_revoke(tenant_id=tenant_id, key_id=pk),
                      success=lambda key: f"API key “{key.name}” ({key.prefix}) revoked.",
                      redirect_to=reverse("accounts:api-keys"), not_found_is_404=True)

"""Browser pages of tenants: landing, signup and sign-in on the public host; the organization's settings
(rename, export, delete) on a tenant host."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.http.request import split_domain_port
from django.shortcuts import redirect, render

from accounts import sign_in
from accounts.lockout import client_address, lockout_check, lockout_fail
from accounts.roles import Scope
from billing.selectors import plan_public_list, subscription_with_plan
from jobs.selectors import job_list
from pdm_saas.errors import ServiceError
from pdm_saas.web_access import can, forbidden, member_view, page_actor
from tenants.forms import (
    OrganizationAddressForm,
    SignInLinksForm,
    SignupForm,
    TenantDeleteForm,
    TenantRenameForm,
    TenantTimeZoneForm,
)
from tenants.models import Tenant
from tenants.schema_names import host_for_slug
from tenants.services import (
    EXPORT_KIND,
    tenant_delete,
    tenant_export_start,
    tenant_rename,
    tenant_signup,
    tenant_time_zone_set,
)


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "tenants/landing.html", {"plans": plan_public_list()})


def _same_port_url(request: HttpRequest, host: str, path: str) -> str:
    """An address on another host of this site, keeping the port the browser is using: the one
    in its Host header. The server's own port (SERVER_PORT) is the proxy's upstream, not the
    browser's (docs/deploy.md, "Serving")."""
    _, port = split_domain_port(request.get_host())
    netloc = f"{host}:{port}" if port else host
    return f"{request.scheme}://{netloc}{path}"


# The services' names of fields that the signup form calls otherwise.
_SIGNUP_FIELDS = {"password": "owner_password", "email": "owner_email"}


def _signup_error(form: SignupForm, exc: ServiceError) -> None:
    fields = [_SIGNUP_FIELDS.get(name, name) for name in (exc.details or {})]
    fields = [name for name in fields if name in form.fields]
    form.add_error(fields[0] if fields else None, exc.message)


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            done = tenant_signup(**form.cleaned_data)
        except ServiceError as exc:
            _signup_error(form, exc)
        else:
            # The new organization lives on its own host, whose session cookie this host cannot
            # set: a one-time link signs the owner in there (accounts/sign_in.py).
            token = sign_in.login_link_token(user=done.owner, tenant=done.tenant)
            return HttpResponseRedirect(_same_port_url(request, done.host, f"/accounts/welcome/{token}/"))
    return render(request, "tenants/signup.html", {"form": form, "plans": plan_public_list(),
                                                   "base_domain": settings.BASE_DOMAIN})


def _sign_in_links(request: HttpRequest, form: SignInLinksForm) -> HttpResponse | None:
    """Mail the links, or say why not; None when the form is to be shown again."""
    email, address = form.cleaned_data["email"].lower(), client_address(request)
    refusal = lockout_check(action="sign_in_links", account=email, address=address)
    if refusal is not None:
        form.add_error(None, refusal.message)
        return None
    lockout_fail(action="sign_in_links", account=email, address=address)  # every request counts
    sign_in.sign_in_links_mail(email=email)
    # The same answer whether or not the address has an account anywhere.
    messages.success(request, f"If {email} belongs to an organization here, its sign-in links are on their "
                              "way to that address.")
    return redirect("sign-in")


def public_sign_in(request: HttpRequest) -> HttpResponse:
    """The public host's sign-in: organizations sign in on their own host, so this page asks
    which organization and sends the browser there (or mails the links to an email)."""
    find = OrganizationAddressForm(request.POST if request.POST.get("action") == "find" else None)
    mail = SignInLinksForm(request.POST if request.POST.get("action") == "mail" else None)
    if find.is_bound and find.is_valid():
        tenant = sign_in.organization_at_address(address=find.cleaned_data["address"])
        if tenant is not None:
            return HttpResponseRedirect(_same_port_url(request, host_for_slug(tenant.slug), "/accounts/login/"))
        find.add_error("address", "No organization has this address. Check your sign-in link, or have "
                                  "your links sent to your email below.")
    if mail.is_bound and mail.is_valid():
        done = _sign_in_links(request, mail)
        if done is not None:
            return done
    status = 400 if (find.is_bound or mail.is_bound) else 200
    return render(request, "tenants/sign_in.html", {"find": find, "mail": mail,
                                                    "base_domain": settings.BASE_DOMAIN}, status=status)


# --- organization settings (tenant host) ----------------------------------------------------


def _settings_page(request: HttpRequest, *, rename_form: TenantRenameForm | None = None,
                   delete_form: TenantDeleteForm | None = None, zone_form: TenantTimeZoneForm | None = None,
                   status: int = 200) -> HttpResponse:
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    context = {
        "tenant": tenant,
        "subscription": subscription_with_plan(tenant_id=tenant.id),
        "rename_form": rename_form or TenantRenameForm(initial={"name": tenant.name}),
        "delete_form": delete_form or TenantDeleteForm(),
        "zone_form": zone_form or TenantTimeZoneForm(initial={"time_zone": tenant.time_zone or "UTC"}),
        "exports": job_list(kind=EXPORT_KIND)[:5] if can(request, Scope.ADMIN) else [],
        "can_owner": can(request, Scope.OWNER),
    }
    return render(request, "tenants/settings.html", context, status=status)


def _rename(request: HttpRequest) -> HttpResponse:
    form = TenantRenameForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, rename_form=form, status=400)
    try:
        tenant_rename(tenant=request.tenant, name=form.cleaned_data["name"])  # type: ignore[attr-defined]
    except ServiceError as exc:
        form.add_error("name", exc.message)
        return _settings_page(request, rename_form=form, status=400)
    messages.success(request, "Organization renamed.")
    return redirect("tenant-settings")


def _time_zone(request: HttpRequest) -> HttpResponse:
    form = TenantTimeZoneForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, zone_form=form, status=400)
    tenant_time_zone_set(tenant=request.tenant, time_zone=form.cleaned_data["time_zone"])  # type: ignore[attr-defined]
    messages.success(request, f"Times without an offset in later uploads are read as {form.cleaned_data['time_zone']}.")
    return redirect("tenant-settings")


def _export(request: HttpRequest) -> HttpResponse:
    job = tenant_export_start(created_by_id=page_actor(request).user_id)
    messages.success(request, f"Export #{job.id} started; its file appears below when it is ready.")
    return redirect("tenant-settings")


def _delete(request: HttpRequest) -> HttpResponse:
    if not can(request, Scope.OWNER):
        return forbidden(request, Scope.OWNER)
    form = TenantDeleteForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, delete_form=form, status=400)
    try:
        tenant_delete(tenant=request.tenant, confirm_slug=form.cleaned_data["confirm_slug"])  # type: ignore[attr-defined]
    except ServiceError as exc:
        form.add_error("confirm_slug", exc.message)
        return _settings_page(request, delete_form=form, status=400)
    # The organization and its host are gone: sign out and go to the public site.
    logout(request)
    return HttpResponseRedirect(_same_port_url(request, settings.BASE_DOMAIN, "/"))


# One form per action on the page; the action's own check (owner for delete) runs inside it.
_SETTINGS_ACTIONS: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "rename": _rename,
    "time_zone": _time_zone,
    "export": _export,
    "delete": _delete,
}


@member_view(write=Scope.ADMIN)
def tenant_settings(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _settings_page(request)
    action = _SETTINGS_ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        return HttpResponseBadRequest("Unknown action.")
    return action(request)

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.forms import InvitationAcceptForm, TenantLoginForm
from accounts.services import invitation_accept
from pdm_saas.errors import ServiceError


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = TenantLoginForm
    redirect_authenticated_user = True


def invitation_accept_page(request: HttpRequest, token: str) -> HttpResponse:
    form = InvitationAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = invitation_accept(tenant_id=request.tenant.id, token=token,  # type: ignore[attr-defined]
                                           **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("home")
    return render(request, "accounts/invitation_accept.html", {"form": form})

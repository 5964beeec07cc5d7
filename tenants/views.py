"""Browser pages of the foundation: landing and signup on the public host, the signed-in home
of a tenant host. The full web application arrives with the web-application issue."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from accounts.selectors import membership_get
from billing.models import Plan
from jobs.models import Job
from pdm_saas.errors import ServiceError
from tenants.forms import SignupForm
from tenants.services import tenant_signup


def landing(request: HttpRequest) -> HttpResponse:
    plans = Plan.objects.filter(is_public=True)
    return render(request, "tenants/landing.html", {"plans": plans})


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            done = tenant_signup(**form.cleaned_data)
        except ServiceError as exc:
            fields = [name for name in (exc.details or {}) if name in form.fields]
            form.add_error(fields[0] if fields else None, exc.message)
        else:
            port = request.get_port()
            netloc = done.host if port in ("80", "443") else f"{done.host}:{port}"
            return HttpResponseRedirect(f"{request.scheme}://{netloc}/accounts/login/")
    return render(request, "tenants/signup.html", {"form": form})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = membership_get(user=request.user, tenant_id=request.tenant.id)  # type: ignore[arg-type,attr-defined]
    if membership is None:
        raise Http404("Not a member of this organization")
    jobs = Job.objects.all()[:10]
    return render(request, "tenants/home.html", {"membership": membership, "jobs": jobs})

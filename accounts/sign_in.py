"""Getting a person to their organization's pages, which live on its own host
(`<slug>.<base domain>`), each with its own session cookie:

- from the public host's sign-in page: by the organization's address, or by email (we mail the
  sign-in links of every organization the address belongs to, and answer the same either way,
  so the page never tells who has an account);
- right after signup, which happens on the public host: a one-time login link to the new
  organization's host, so the owner does not type the password they just chose again.

The login link is signed (Django's signing, with SECRET_KEY), names one user and one tenant,
lives LOGIN_LINK_SECONDS, and is single-use without a table: it carries the user's `last_login`
as it was when issued, and signing in through it changes `last_login` (Django's
`update_last_login` on `user_logged_in`), so a second use no longer matches.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail

from accounts.models import Membership, User
from tenants.models import Domain, Tenant
from tenants.schema_names import PUBLIC_SCHEMA
from tenants.selectors import tenant_link

LOGIN_LINK_SALT = "accounts.sign_in.login_link"
LOGIN_LINK_SECONDS = 120  # from the signup answer to the new host: one redirect, seconds at most


def organization_at_address(*, address: str) -> Tenant | None:
    """The active organization a person means by "acme", "acme.example.com" or a pasted link
    "https://acme.example.com/accounts/login/"; None when there is none."""
    text = (address or "").strip().lower()
    host = urlsplit(text if "://" in text else f"//{text}").hostname or ""
    if "." not in host:  # a bare slug
        host = f"{host}.{settings.BASE_DOMAIN}"
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    tenant = domain.tenant if domain else None
    if tenant is None or tenant.schema_name == PUBLIC_SCHEMA or not tenant.is_active:
        return None
    return tenant


def organization_login_url(*, tenant: Tenant) -> str:
    """The sign-in page of an organization, from the configured site address."""
    return tenant_link(tenant=tenant, path="/accounts/login/")


def sign_in_links_mail(*, email: str) -> int:
    """Mail `email` the sign-in page of each active organization it belongs to; how many were
    listed (0: no mail). The caller answers the same whatever this returns."""
    memberships = (Membership.objects.select_related("tenant")
                   .filter(user__email__iexact=(email or "").strip(), user__is_active=True, tenant__is_active=True)
                   .order_by("tenant__name"))
    lines = [f"- {m.tenant.name}: {organization_login_url(tenant=m.tenant)}" for m in memberships]
    if lines:
        send_mail(subject="Your PDM SaaS sign-in links",
                  message="You can sign in to these organizations:\n" + "\n".join(lines) + "\n",
                  from_email=None, recipient_list=[email.strip()])
    return len(lines)


def _last_login_mark(user: User) -> str:
    return user.last_login.isoformat() if user.last_login else ""


def login_link_token(*, user: User, tenant: Tenant) -> str:
    """A signed token that signs `user` in to `tenant` once, within LOGIN_LINK_SECONDS."""
    return signing.dumps({"u": user.id, "t": tenant.id, "l": _last_login_mark(user)},
                         salt=LOGIN_LINK_SALT, compress=True)


def login_link_user(*, token: str, tenant: Tenant) -> User | None:
    """The member `token` signs in to `tenant`; None if it is forged, expired, already used, of
    another tenant, or its user is no longer an active member. The caller must sign the user in
    at once (that is what makes the token used)."""
    try:
        claim = signing.loads(token, salt=LOGIN_LINK_SALT, max_age=LOGIN_LINK_SECONDS)
    except signing.BadSignature:  # SignatureExpired is a BadSignature too
        return None
    if not isinstance(claim, dict) or claim.get("t") != tenant.id or not isinstance(claim.get("u"), int):
        return None
    user = User.objects.filter(id=claim["u"], is_active=True).first()
    if user is None or claim.get("l") != _last_login_mark(user):
        return None
    if not Membership.objects.filter(user=user, tenant=tenant).exists():
        return None
    return user

from typing import Any, cast

from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html

from tenants.time_zones import time_zone_choices


class SignupForm(forms.Form):
    organization_name = forms.CharField(max_length=200, label="Organization name")
    # Left blank, the server derives a free one from the name (tenants.services.slug_from_name);
    # static/js/signup.js fills it in as the name is typed.
    slug = forms.CharField(
        max_length=40, required=False, label="Address",
        help_text="Your address: <slug>.<our domain>. Lower-case letters, digits, hyphens.",
    )
    owner_email = forms.EmailField(label="Your email")
    owner_password = forms.CharField(widget=forms.PasswordInput, label="Password")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The rules are shown before the first try: the configured password validators' own words.
        self.fields["owner_password"].help_text = password_validators_help_text_html()


class OrganizationAddressForm(forms.Form):
    """The public sign-in page: which organization (its address, or a link to it)."""

    address = forms.CharField(max_length=300, label="Your organization's address",
                              help_text="Its name in your sign-in link, e.g. “acme” for acme.<our domain>.")


class SignInLinksForm(forms.Form):
    """The public sign-in page: "I do not know the address": mail me my organizations' links."""

    email = forms.EmailField(label="Your email")


class TenantRenameForm(forms.Form):
    name = forms.CharField(max_length=200, label="Organization name")


class TenantDeleteForm(forms.Form):
    confirm_slug = forms.CharField(max_length=40, label="Type the organization's slug to confirm")


class TenantTimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(label="Time zone of your plants", choices=[])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = time_zone_choices()

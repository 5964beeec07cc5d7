from typing import Any, cast

from django import forms

from tenants.time_zones import time_zone_choices


class SignupForm(forms.Form):
    organization_name = forms.CharField(max_length=200, label="Organization name")
    slug = forms.CharField(
        max_length=40, help_text="Your address: <slug>.<our domain>. Lower-case letters, digits, hyphens."
    )
    owner_email = forms.EmailField(label="Your email")
    owner_password = forms.CharField(widget=forms.PasswordInput, label="Password")


class TenantRenameForm(forms.Form):
    name = forms.CharField(max_length=200, label="Organization name")


class TenantDeleteForm(forms.Form):
    confirm_slug = forms.CharField(max_length=40, label="Type the organization's slug to confirm")


class TenantTimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(label="Time zone of your plants", choices=[])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = time_zone_choices()

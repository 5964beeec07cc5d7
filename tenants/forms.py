from django import forms


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

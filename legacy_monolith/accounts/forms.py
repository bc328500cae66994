from django import forms
from django.contrib.auth.forms import UserCreationForm

from legacy_monolith.accounts.models import Address, User


class RegisterForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("username", "email", "first_name", "last_name")


class AddressForm(forms.ModelForm):
    class Meta:
        model = Address
        fields = ("full_name", "line1", "line2", "city", "postcode", "country", "is_default")

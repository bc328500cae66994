from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from legacy_monolith.accounts.forms import AddressForm, RegisterForm
from legacy_monolith.accounts.models import Address
from legacy_monolith.orders.models import Order


def register(request):
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome to the Legacy Shop!")
        return redirect("accounts:account")
    return render(request, "accounts/register.html", {"form": form})


@login_required
def account(request):
    recent = Order.objects.filter(customer=request.user).order_by("-placed_at")[:5]
    return render(request, "accounts/account.html", {"recent_orders": recent, "profile": request.user.profile})


@login_required
def addresses(request):
    form = AddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        address = form.save(commit=False)
        address.user = request.user
        address.save()
        if address.is_default:
            request.user.addresses.exclude(pk=address.pk).update(is_default=False)
        messages.success(request, "Address saved.")
        return redirect("accounts:addresses")
    return render(request, "accounts/addresses.html", {"form": form, "addresses": request.user.addresses.all()})


@login_required
@require_POST
def delete_address(request, pk):
    get_object_or_404(Address, pk=pk, user=request.user).delete()
    return redirect("accounts:addresses")

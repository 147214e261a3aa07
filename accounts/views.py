from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.shortcuts import redirect, render

from connectors.models import Connection


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        messages.success(request, "Welcome! Start by connecting your Cartly shop.")
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def home(request):
    connections = Connection.objects.filter(owner=request.user)
    return render(request, "accounts/home.html", {"connections": connections})

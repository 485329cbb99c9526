from __future__ import annotations

import zoneinfo

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from liaison.core.errors import ValidationFailed
from liaison.core.permissions import public, requires
from liaison.users import services
from liaison.users.models import ApiToken, User

login_view = public(auth_views.LoginView.as_view(redirect_authenticated_user=True))
logout_view = public(auth_views.LogoutView.as_view())


@requires("admin")
def user_list(request):
    return render(request, "users/user_list.html", {"users": User.objects.all()})


def _user_values(post, creating: bool) -> tuple[dict, dict]:
    values = {k: post.get(k, "").strip() for k in ("username", "email", "first_name", "last_name", "role",
                                                    "time_zone")}
    values["is_active"] = bool(post.get("is_active")) if not creating else True
    errors: dict[str, list[str]] = {}
    if creating and not values["username"]:
        errors["username"] = ["A username is required."]
    if values["role"] not in User.Role.values:
        errors["role"] = ["Choose a role."]
    if values["time_zone"] and values["time_zone"] not in zoneinfo.available_timezones():
        errors["time_zone"] = ["Unknown time zone (use a name such as Europe/Paris)."]
    return values, errors


@requires("admin")
def user_form(request, pk=None):
    user_obj = get_object_or_404(User, pk=pk) if pk else None
    errors: dict[str, list[str]] = {}
    values = {"role": User.Role.MARKETER, "time_zone": "UTC", "is_active": True}
    if user_obj:
        values = {k: getattr(user_obj, k) for k in ("username", "email", "first_name", "last_name", "role",
                                                     "time_zone", "is_active")}
    if request.method == "POST":
        values, errors = _user_values(request.POST, creating=user_obj is None)
        password = request.POST.get("password", "")
        if user_obj is None and User.objects.filter(username=values["username"]).exists():
            errors["username"] = ["This username is taken."]
        if user_obj is None and not password:
            errors["password"] = ["Set an initial password."]
        if password:
            try:
                validate_password(password, user_obj)
            except ValidationError as exc:
                errors["password"] = list(exc.messages)
        if user_obj == request.user and (values["role"] != User.Role.ADMIN or not values["is_active"]):
            errors["role"] = ["You cannot remove your own administrator rights."]
        if not errors:
            target = user_obj or User(username=values["username"])
            for key in ("email", "first_name", "last_name", "role", "time_zone", "is_active"):
                setattr(target, key, values[key] or ("UTC" if key == "time_zone" else values[key]))
            if password:
                target.set_password(password)
            target.save()
            messages.success(request, f"User {target.username} saved.")
            return redirect("users:list")
    return render(request, "users/user_form.html", {"user_obj": user_obj, "values": values, "errors": errors,
                                                    "roles": User.Role.choices}, status=422 if errors else 200)


def token_list(request):
    return render(request, "users/token_list.html", {"tokens": request.user.api_tokens.all(), "errors": {}})


@require_POST
@requires("view")
def token_create(request):
    try:
        token, plain = services.create_api_token(request.user, request.POST.get("name", ""))
    except ValidationFailed as exc:
        return render(request, "users/token_list.html", {"tokens": request.user.api_tokens.all(),
                                                         "errors": exc.errors}, status=422)
    return render(request, "users/token_list.html", {"tokens": request.user.api_tokens.all(), "new_token": plain,
                                                     "new_token_name": token.name, "errors": {}})


@require_POST
@requires("view")
def token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.delete()
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("users:tokens")


from datetime import datetime

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import ConfigDict

from liaison.core.errors import ValidationFailed
from liaison.core.permissions import requires
from liaison.core.restapi import ERRORS, Id
from liaison.users import services
from liaison.users.models import ApiToken, User

router = Router(tags=["users"])


class UserOut(Schema):
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    role: str
    time_zone: str
    is_active: bool


class UserIn(Schema):
    model_config = ConfigDict(extra="forbid")

    username: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    role: str | None = None
    time_zone: str | None = None
    is_active: bool | None = None
    password: str | None = None


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class TokenCreated(TokenOut):
    token: str


class TokenIn(Schema):
    name: str
    expires_at: datetime | None = None


@router.get("/me", response=UserOut)
def me(request):
    return request.user


@router.get("/me/tokens", response=list[TokenOut])
def my_tokens(request):
    return list(request.user.api_tokens.all())


@router.post("/me/tokens", response={201: TokenCreated, **ERRORS})
def create_token(request, payload: TokenIn):
    token, plain = services.create_api_token(request.user, payload.name, payload.expires_at)
    return Status(201, {**TokenOut.from_orm(token).model_dump(), "token": plain})


@router.delete("/me/tokens/{token_id}", response={204: None, **ERRORS})
def revoke_token(request, token_id: Id):
    get_object_or_404(ApiToken, pk=token_id, user=request.user).delete()
    return Status(204, None)


@router.get("/users", response=list[UserOut])
@requires("admin")
def list_users(request):
    return list(User.objects.all())


def _apply(user: User, payload: UserIn, creating: bool) -> User:
    data = payload.model_dump(exclude_unset=True)
    errors: dict[str, list[str]] = {}
    if creating:
        if not data.get("username"):
            errors["username"] = ["A username is required."]
        elif User.objects.filter(username=data["username"]).exists():
            errors["username"] = ["This username is taken."]
        if not data.get("password"):
            errors["password"] = ["Set an initial password."]
    if "role" in data and data["role"] not in User.Role.values:
        errors["role"] = [f"Use one of: {', '.join(User.Role.values)}."]
    if data.get("password"):
        try:
            validate_password(data["password"], user)
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    if errors:
        raise ValidationFailed(errors)
    for key in ("username", "email", "first_name", "last_name", "role", "time_zone", "is_active"):
        if key in data and data[key] is not None:
            setattr(user, key, data[key])
    if data.get("password"):
        user.set_password(data["password"])
    user.save()
    return user


@router.post("/users", response={201: UserOut, **ERRORS})
@requires("admin")
def create_user(request, payload: UserIn):
    return Status(201, _apply(User(), payload, creating=True))


@router.patch("/users/{user_id}", response={200: UserOut, **ERRORS})
@requires("admin")
def update_user(request, user_id: Id, payload: UserIn):
    return _apply(get_object_or_404(User, pk=user_id), payload, creating=False)

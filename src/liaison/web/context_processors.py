from liaison.core.contributions import NavItem
from liaison.core.permissions import has_capability
from liaison.core.registry import registry


def navigation(request):
    """The navigation, built from the registry and filtered by the user's role."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_main": [], "nav_settings": []}
    path = request.path
    items = []
    for item in sorted(registry.all(NavItem), key=lambda i: (i.order, i.label)):
        if not has_capability(user, item.permission):
            continue
        prefix = item.active_prefix
        active = (path == "/") if prefix == "/$" else bool(prefix) and path.startswith(prefix)
        items.append({"item": item, "active": active})
    return {
        "nav_main": [i for i in items if i["item"].section == "main"],
        "nav_settings": [i for i in items if i["item"].section == "settings"],
        "can_edit": has_capability(user, "edit"),
        "can_admin": has_capability(user, "admin"),
    }

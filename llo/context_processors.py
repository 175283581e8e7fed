from .navigation import sections_for


def navigation(request):
    user = getattr(request, "user", None)
    return {"nav_sections": sections_for(user)}

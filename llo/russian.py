"""Russian grammar the interface needs in more than one place."""


def plural(n: int, one: str, few: str, many: str) -> str:
    """The noun form for `n`: plural(1, "день", "дня", "дней") → "день"; 3 → "дня"; 11 → "дней"."""
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many

from django.contrib.auth.forms import AuthenticationForm


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "Неверное имя пользователя или пароль. После нескольких ошибок подряд вход "
        "временно блокируется.",
        "inactive": "Учётная запись отключена. Обратитесь к администратору.",
    }

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.views import LoginView, invitation_accept_page

app_name = "accounts"

urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("invitations/<str:token>/", invitation_accept_page, name="invitation-accept"),
]

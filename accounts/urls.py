from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("welcome/<str:token>/", views.login_link_page, name="login-link"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", views.PasswordResetSentView.as_view(), name="password-reset-sent"),
    path("password-reset/done/", views.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("password-reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(),
         name="password-reset-confirm"),
    path("invitations/<str:token>/", views.invitation_accept_page, name="invitation-accept"),
    path("organization/", views.organization, name="organization"),
    path("organization/invitations/", views.invitation_create_page, name="invitation-create"),
    path("organization/invitations/<int:pk>/revoke/", views.invitation_revoke_page, name="invitation-revoke"),
    path("organization/members/<int:pk>/role/", views.member_role_page, name="member-role"),
    path("organization/members/<int:pk>/remove/", views.member_remove_page, name="member-remove"),
    path("api-keys/", views.api_keys, name="api-keys"),
    path("api-keys/new/", views.api_key_create_page, name="api-key-create"),
    path("api-keys/<int:pk>/revoke/", views.api_key_revoke_page, name="api-key-revoke"),
]

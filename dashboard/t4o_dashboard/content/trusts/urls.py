from django.urls import re_path

from t4o_dashboard.content.trusts import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(r"^create/$", views.CreateView.as_view(), name="create"),
]

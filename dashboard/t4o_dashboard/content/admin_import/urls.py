from django.urls import re_path

from t4o_dashboard.content.admin_import import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(r"^reassign/$", views.ReassignView.as_view(), name="reassign"),
]

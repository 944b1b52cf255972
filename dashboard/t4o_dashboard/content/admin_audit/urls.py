from django.urls import re_path

from t4o_dashboard.content.admin_audit import views

urlpatterns = [re_path(r"^$", views.IndexView.as_view(), name="index")]

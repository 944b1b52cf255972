from django.urls import re_path

from t4o_dashboard.content.admin_quotas import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(r"^(?P<project_id>[^/]+)/$", views.DetailView.as_view(), name="detail"),
    re_path(r"^(?P<project_id>[^/]+)/update/$", views.UpdateView.as_view(), name="update"),
]

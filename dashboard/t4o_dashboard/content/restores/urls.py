from django.urls import re_path

from t4o_dashboard.content.restores import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(r"^(?P<restore_id>[^/]+)/$", views.DetailView.as_view(), name="detail"),
]

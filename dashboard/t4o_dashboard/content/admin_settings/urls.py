from django.urls import re_path

from t4o_dashboard.content.admin_settings import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(r"^create/$", views.CreateView.as_view(), name="create"),
    re_path(r"^scheduler/$", views.SchedulerView.as_view(), name="scheduler"),
    re_path(r"^(?P<name>[^/]+)/update/$", views.UpdateView.as_view(), name="update"),
]

from django.urls import re_path

from t4o_dashboard.content.admin_policies import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(r"^create/$", views.CreateView.as_view(), name="create"),
    re_path(r"^(?P<policy_id>[^/]+)/update/$", views.UpdateView.as_view(), name="update"),
    re_path(r"^(?P<policy_id>[^/]+)/assign/$", views.AssignView.as_view(), name="assign"),
]

from django.urls import re_path

from t4o_dashboard.content.file_search import views as file_search
from t4o_dashboard.content.workloads import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(r"^create/$", views.CreateView.as_view(), name="create"),
    re_path(r"^(?P<workload_id>[^/]+)/$", views.DetailView.as_view(), name="detail"),
    re_path(r"^(?P<workload_id>[^/]+)/update/$", views.UpdateView.as_view(), name="update"),
    re_path(r"^(?P<workload_id>[^/]+)/snapshot/$", views.SnapshotView.as_view(), name="snapshot"),
    re_path(
        r"^(?P<workload_id>[^/]+)/file_search/$", file_search.FileSearchView.as_view(), name="file_search"
    ),
    re_path(
        r"^(?P<workload_id>[^/]+)/file_search/(?P<search_id>[^/]+)/$",
        file_search.FileSearchResultsView.as_view(),
        name="file_search_results",
    ),
]

from django.urls import re_path

from t4o_dashboard.content.mounts import views as mounts
from t4o_dashboard.content.snapshots import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(r"^mounted/$", mounts.MountedView.as_view(), name="mounted"),
    re_path(r"^(?P<snapshot_id>[^/]+)/$", views.DetailView.as_view(), name="detail"),
    re_path(r"^(?P<snapshot_id>[^/]+)/mount/$", mounts.MountView.as_view(), name="mount"),
    re_path(r"^(?P<snapshot_id>[^/]+)/dismount/$", mounts.DismountView.as_view(), name="dismount"),
    re_path(
        r"^(?P<snapshot_id>[^/]+)/selective_restore/$",
        views.SelectiveRestoreView.as_view(),
        name="selective_restore",
    ),
    re_path(
        r"^(?P<snapshot_id>[^/]+)/inplace_restore/$",
        views.InplaceRestoreView.as_view(),
        name="inplace_restore",
    ),
    re_path(
        r"^(?P<snapshot_id>[^/]+)/vms/(?P<vm_id>[^/]+)/disks/(?P<disk>[^/]+)/browse/$",
        views.BrowseView.as_view(),
        name="browse",
    ),
    re_path(
        r"^(?P<snapshot_id>[^/]+)/vms/(?P<vm_id>[^/]+)/disks/(?P<disk>[^/]+)/download/$",
        views.DownloadView.as_view(),
        name="download",
    ),
]

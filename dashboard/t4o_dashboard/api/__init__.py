from t4o_dashboard.api import workloadmgr

__all__ = ["workloadmgr"]

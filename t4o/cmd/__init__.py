"""Console scripts of the control plane."""

import warnings

# oslo libraries import eventlet (unused here), which warns on import; keep the services' output clean.
warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

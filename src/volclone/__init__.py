"""volclone: block storage with crash-consistent multi-volume clones."""

import warnings

__version__ = "0.1.0"

# oslo.messaging brings oslo.service, which installs eventlet; oslo.utils (under TaskFlow) then
# imports it and eventlet warns on stderr at import that it is deprecated. volclone never uses
# eventlet (oslo.messaging runs on its threading executor), and the warning would land in every
# command's stderr.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

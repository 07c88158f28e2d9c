import os

import torch

# Under pytest-xdist each worker gets one core: torch's default of one thread per
# core would make the workers fight over both and run slower than one worker.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

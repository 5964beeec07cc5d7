"""OpenMP must not spin. XGBoost and scikit-learn run on OpenMP, whose threads by default
busy-wait between parallel regions; when web, worker and another job share the two cores, the
spinning threads starve each other. Measured on this machine with other processes busy: training
one classifier took 35.6 s with two spinning threads, 1.96 s with one thread and 3.7 s with two
passive ones. Imported before anything loads an OpenMP runtime (`pdm_saas` and `predictions`
import it first); an explicit setting in the environment wins."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

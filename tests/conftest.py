"""Tests run the offline profile: no Hub, stable hashing in the kernels nbval starts."""
import os

from utils.run import OFFLINE_ENV

os.environ.update(OFFLINE_ENV)

"""Tests run the offline profile: no Hub, stable hashing and pinned float kernels in the kernels nbval starts."""
import os

from utils import numerics
from utils.run import OFFLINE_ENV

os.environ.update(OFFLINE_ENV)


def pytest_report_header():
    return numerics.platform_note()


def pytest_collectstart(collector):
    """nbval compares every output mimetype it does not skip; the results JSON that `record()` adds for the
    runner's report is skipped, while its text/plain twin is still compared (after sanitizing)."""
    from utils.run import MIME
    if hasattr(collector, "skip_compare") and MIME not in collector.skip_compare:
        collector.skip_compare += (MIME,)

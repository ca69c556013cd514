# TEMPORARY: stand-in live_server until tests/conftest.py has the real one. DELETE.
import sys
sys.path.insert(0, "/tmp/fake")
from fixture import live_server  # noqa

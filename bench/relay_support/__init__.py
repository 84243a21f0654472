"""Support code of the relay benchmarks: processes, load generators, the ceiling.

Relay processes are launched by the end-to-end tests' launcher
(``tests/helpers/relay_process.py``), so benchmarks and tests run the relay the
same way; importing this package makes ``helpers`` importable.
"""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[2] / "tests")
if _TESTS not in sys.path:
    sys.path.append(_TESTS)

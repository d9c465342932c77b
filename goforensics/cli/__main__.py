"""``python -m goforensics.cli``: the same as the ``goforensics`` command."""

import sys

from . import main

sys.exit(main())

"""`python -m assessment_async`: the same command line as `assessment-async`."""

import sys

from assessment_async.cli import main

sys.exit(main())

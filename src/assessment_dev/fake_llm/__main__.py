"""`python -m assessment_dev.fake_llm` = `assessment-async fake-llm`."""

import sys

from assessment_async.cli import main

sys.exit(main(["fake-llm", *sys.argv[1:]]))

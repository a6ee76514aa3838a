"""`python -m cli …` is the same as the `siteveil` console script."""

import sys

from cli.main import main

sys.exit(main())

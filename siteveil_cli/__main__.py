"""`python -m siteveil_cli …` is the same as the `siteveil` console script."""

import sys

from siteveil_cli.main import main

sys.exit(main())

"""``python -m streamwidgets``: the command line (see :mod:`streamwidgets.cli`)."""

from streamwidgets.cli import main

raise SystemExit(main())

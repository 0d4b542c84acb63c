"""``python -m streamwidgets``: the command line (see :mod:`streamwidgets.cli.main`)."""

from streamwidgets.cli.main import main

raise SystemExit(main())

"""The command line: ``streamwidgets sim|record|relay|lab|demo`` (``main`` parses)."""

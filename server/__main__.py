"""``python -m server`` is the same as the ``casebridge`` command."""

from casebridge.server.cli import main

raise SystemExit(main())

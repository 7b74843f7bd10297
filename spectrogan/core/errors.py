"""The one exception type for a mistake in what the user gave (a bad flag value, a missing or
unusable input file, a model that is not there).

Library modules raise `UserError` with a one-line message that says what was wrong and, where
there is one, what to run instead; command-line entry points (cli.cli_main) print it as one
`error:` line and exit 2. Standard library only.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in what the user gave us; command-line tools print it as one line."""

"""The one root of the project's expected failures.

Bad input (a malformed raw file, an invalid option), a missing or altered artefact, a refused promotion: each is a
`MediMindError` whose message names the file or the setting and what to do. They keep their other bases
(`ValueError`, `FileNotFoundError`, ...) for callers that catch those. On the Dagster side they become one
`dg.Failure` with that message (`assets/common.fails_cleanly`); on the command line one line and exit 2.
Standard library only.
"""


class MediMindError(Exception):
    """An expected failure: the message says what is wrong and what to do."""

"""Every error adapterhub raises on purpose.

Each message is one line that says what was wrong, what exists instead, and the command that fixes it.
The command line prints ``error: <message>`` and exits non-zero; a traceback only with ADAPTERHUB_DEBUG=1.
"""


class AdapterHubError(Exception):
    """Base of every error adapterhub raises on purpose."""

    exit_code = 1


class InvalidName(AdapterHubError, ValueError):
    """An adapter name, version or alias that does not follow the naming rules."""

    exit_code = 2


class AdapterNotFound(AdapterHubError, KeyError):
    """A name, version or alias that the registry does not hold."""

    exit_code = 3

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class RegistryNotFound(AdapterNotFound):
    """A registry path where no registry exists (publishing creates one; reading never does)."""


class IncompatibleAdapter(AdapterHubError):
    """An adapter that does not fit the base it is put on (other base, missing or unexpected keys)."""

    exit_code = 4


class RegistryCorrupt(AdapterHubError):
    """A registry file whose bytes are not what its card recorded, a card that cannot be read, or a symlink or
    foreign entry where the registry keeps its own files."""

    exit_code = 5


class RegistryConflict(AdapterHubError):
    """An operation refused because it would break something that exists (an alias, a target directory)."""

    exit_code = 6


class ConfigError(AdapterHubError, ValueError):
    """Bad user input: flags, files or options, with every problem listed once."""

    exit_code = 2


class InvalidInput(ConfigError):
    """One input the engine cannot run (text that is not well-formed Unicode, a prompt past the base's context);
    ``param`` names it as the caller wrote it (``inputs[3]``, ``prompt``, ``messages[1].content``)."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


class ContextTooLong(InvalidInput):
    """A prompt whose tokens plus the new tokens asked for pass the positions its base was built for."""


class BaseNotFound(AdapterHubError):
    """A base model that is neither a local model directory nor a hub id that can be reached or is cached."""

    exit_code = 3


class MetricBelowMinimum(AdapterHubError):
    """A trained adapter that scored worse than ``--min-metric``: nothing was published."""

    exit_code = 7


class RemoteUnavailable(AdapterHubError):
    """A remote registry that cannot be reached or read: endpoint down, bucket missing, no credentials, access
    denied."""

    exit_code = 8


class ServerUnreachable(RemoteUnavailable):
    """A running ``hub serve`` that cannot be reached at the URL given (not started, another port, a firewall)."""

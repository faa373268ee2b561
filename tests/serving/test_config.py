"""``ServeConfig``: settings that can never work are refused at start-up; the key never reaches workers."""

from __future__ import annotations

import pytest

from adapterhub.errors import ConfigError
from adapterhub.serving import ServeConfig


def test_a_request_limit_above_the_queue_is_refused_naming_both_flags() -> None:
    """A request of more inputs than the queue holds would get 429 forever, even on an idle server."""
    with pytest.raises(ConfigError) as refused:
        ServeConfig(max_queue=8, max_inputs=9)
    message = str(refused.value)
    assert "--max-inputs 9 is more than --max-queue 8" in message and "\n" not in message
    with pytest.raises(ConfigError, match="--max-inputs 64 is more than --max-queue 8"):
        ServeConfig(max_queue=8)  # the default of --max-inputs
    assert ServeConfig(max_queue=8, max_inputs=8).max_inputs == 8


def test_the_key_comes_from_a_flag_a_file_or_the_environment(tmp_path, monkeypatch) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    key_file.chmod(0o600)
    monkeypatch.setenv("ADAPTERHUB_API_KEY", "from-env")
    assert ServeConfig().with_environment().api_key == "from-env"
    assert ServeConfig(api_key_file=str(key_file)).with_environment().api_key == "from-file"
    assert ServeConfig(api_key="from-flag").with_environment().api_key == "from-flag"
    with pytest.raises(ConfigError, match="give --api-key or --api-key-file, not both"):
        ServeConfig(api_key="a", api_key_file=str(key_file))
    with pytest.raises(ConfigError, match=r"cannot read --api-key-file .*missing: No such file"):
        ServeConfig(api_key_file=str(tmp_path / "missing")).with_environment()
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        ServeConfig(api_key_file=str(tmp_path / "empty")).with_environment()


def test_worker_settings_hold_a_salted_digest_of_the_key_never_the_key(monkeypatch) -> None:
    monkeypatch.delenv("ADAPTERHUB_API_KEY", raising=False)
    text = ServeConfig(api_key="s3cret-key", workers=2).with_environment().to_json()
    assert "s3cret-key" not in text
    worker = ServeConfig.from_json(text)
    assert worker.api_key is None
    digest = worker.key_digest()
    assert digest is not None and digest.matches("s3cret-key") and not digest.matches("s3cret-kez")
    assert ServeConfig.from_json(ServeConfig().to_json()).key_digest() is None
    again = ServeConfig.from_json(ServeConfig(api_key="s3cret-key", workers=2).to_json()).api_key_digest
    assert again != worker.api_key_digest  # a new salt each time: equal keys do not give equal digests

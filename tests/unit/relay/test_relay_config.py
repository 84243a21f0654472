"""config.toml: round trip, defaults, and precise complaints about bad files."""

from __future__ import annotations

import resource
import stat
from pathlib import Path

import pytest

from veil.relay.protocol.errors import InvalidRelayConfig
from veil.relay.server.config import CONFIG_FILE, RelayConfig, create_data_dir
from veil.relay.server.settings import DAY_SECONDS, RelaySettings
from veil.relayd.runner import raise_descriptor_limit


def test_round_trip_keeps_every_setting(tmp_path: Path) -> None:
    config = RelayConfig(
        public_hosts=("relay.example", "::1"),
        listen_host="::",
        port=443,
        settings=RelaySettings(
            retention_seconds=7 * DAY_SECONDS,
            queue_quota=64,
            password="pw",
            max_queues_per_connection=5,
            max_connections=100,
            idle_timeout_seconds=30.0,
        ),
        metrics_port=9464,
        log_level="debug",
    )
    config.save(tmp_path)
    assert stat.S_IMODE((tmp_path / CONFIG_FILE).stat().st_mode) == 0o600
    loaded = RelayConfig.load(tmp_path)
    assert loaded.public_hosts == config.public_hosts
    assert (loaded.listen_host, loaded.port, loaded.metrics_port) == ("::", 443, 9464)
    assert loaded.settings.retention_seconds == 7 * DAY_SECONDS
    assert (loaded.settings.queue_quota, loaded.settings.password) == (64, "pw")
    assert loaded.settings == config.settings
    assert loaded.log_level == "debug"


def test_minimal_file_gets_defaults(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text(
        'format_version = 1\n[address]\nhosts = ["Relay.Example"]\n'
    )
    config = RelayConfig.load(tmp_path)
    assert config.public_hosts == ("relay.example",)
    assert config.settings == RelaySettings()
    assert config.metrics_port is None


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("format_version = 2\n", "format_version must be 1"),
        ('format_version = 1\n[address]\nhosts = ["a.example"]\n[extra]\n', "unknown table"),
        ('format_version = 1\n[address]\nhosts = ["a.example"]\nport = 1\n', "unknown key"),
        ("format_version = 1\n", "missing 'address'"),
        ('format_version = 1\n[address]\nhosts = "a.example"\n', "list of host names"),
        ('format_version = 1\n[address]\nhosts = ["bad host"]\n', "bad host name"),
        ('format_version = 1\n[address]\nhosts = ["a.example"]\n[listen]\nport = "x"\n', "integer"),
        ('format_version = 1\n[address]\nhosts = ["a.example"]\n[listen]\nport = 0\n', "1..65535"),
        ('format_version = 1\n[address]\nhosts = ["a.example"]\n[queues]\nquota = 0\n', "quota"),
        (
            'format_version = 1\n[address]\nhosts = ["a.example"]\n[queues]\npassword = 5\n',
            "string",
        ),
        (
            'format_version = 1\n[address]\nhosts = ["a.example"]\n[log]\nlevel = "loud"\n',
            "log.level",
        ),
        (
            'format_version = 1\n[address]\nhosts = ["a.example"]\n[connections]\nmax = 0\n',
            "connection limits",
        ),
        (
            'format_version = 1\n[address]\nhosts = ["a.example"]\n[connections]\nmax = "x"\n',
            "connections.max must be an integer",
        ),
        ("format_version = = 1\n", "Invalid"),
    ],
)
def test_bad_files_are_explained(tmp_path: Path, text: str, complaint: str) -> None:
    (tmp_path / CONFIG_FILE).write_text(text)
    with pytest.raises(InvalidRelayConfig, match=complaint):
        RelayConfig.load(tmp_path)


def test_missing_file_points_to_init(tmp_path: Path) -> None:
    with pytest.raises(InvalidRelayConfig, match="veil-relay init"):
        RelayConfig.load(tmp_path)


def test_data_dir_is_private_and_not_reused(tmp_path: Path) -> None:
    data = tmp_path / "relay"
    create_data_dir(data)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    RelayConfig(public_hosts=("a.example",)).save(data)
    with pytest.raises(InvalidRelayConfig, match="already holds a relay"):
        create_data_dir(data)


def test_store_engine_defaults_to_the_journal_and_older_files_to_sqlite(tmp_path: Path) -> None:
    RelayConfig(public_hosts=("relay.example",)).save(tmp_path)
    assert RelayConfig.load(tmp_path).store == "journal"
    older = tmp_path / "older"
    older.mkdir()
    (older / CONFIG_FILE).write_text('format_version = 1\n[address]\nhosts = ["relay.example"]\n')
    assert RelayConfig.load(older).store == "sqlite"  # its data is in relay.db
    with pytest.raises(InvalidRelayConfig, match="store must be one of"):
        RelayConfig(public_hosts=("relay.example",), store="postgres")


def test_the_relay_raises_its_descriptor_limit_to_the_hard_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = raise_descriptor_limit()
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == limit
    assert limit == hard or hard == resource.RLIM_INFINITY

"""config.toml: round trip, defaults, and precise complaints about bad files."""

from __future__ import annotations

import resource
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers.relay_harness import Relay
from veil.crypto import X25519KeyPair
from veil.relay.protocol import log_commands as lc
from veil.relay.protocol import log_responses as lr
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import InvalidRelayConfig, TooManyMembers
from veil.relay.server.config import CONFIG_FILE, RelayConfig, create_data_dir
from veil.relay.server.file_settings import FileStoreSettings
from veil.relay.server.log_state import LogSettings
from veil.relay.server.settings import DAY_SECONDS, RelaySettings
from veil.relayd.cli import main as relay_cli
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
            proxy_allow=("10.0.0.0/8",),
        ),
        metrics_port=9464,
        log_level="debug",
        logs=LogSettings(log_quota=100, max_log_members=500, retention_seconds=3 * DAY_SECONDS),
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
    assert loaded.logs == config.logs


def test_minimal_file_gets_defaults(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text(
        'format_version = 1\n[address]\nhosts = ["Relay.Example"]\n'
    )
    config = RelayConfig.load(tmp_path)
    assert config.public_hosts == ("relay.example",)
    assert config.settings == RelaySettings()
    assert config.metrics_port is None
    assert config.logs == LogSettings()


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
        ('format_version = 1\n[address]\nhosts = ["a.example"]\n[logs]\nquota = 0\n', "logs.quota"),
        (
            'format_version = 1\n[address]\nhosts = ["a.example"]\n[logs]\nmax_members = "9"\n',
            "logs.max_members",
        ),
        (
            'format_version = 1\n[address]\nhosts = ["a.example"]\n[logs]\nretention_days = 0\n',
            "logs.retention_days",
        ),
        ('format_version = 1\n[address]\nhosts = ["a.example"]\n[logs]\nsize = 1\n', "[logs]"),
        (
            'format_version = 1\n[address]\nhosts = ["a.example"]\n[connections]\nmax = 0\n',
            "connection limits",
        ),
        (
            'format_version = 1\n[address]\nhosts = ["a.example"]\n[connections]\nmax = "x"\n',
            "connections.max must be an integer",
        ),
        ("format_version = = 1\n", "Invalid"),
        (
            'format_version = 1\n[address]\nhosts = ["a.example"]\n[files]\nenabled = 1\n',
            "files.enabled",
        ),
        (
            'format_version = 1\n[address]\nhosts = ["a.example"]\n[files]\nenabled = true\n'
            "retention_hours = 0\n",
            "1..720",
        ),
        (
            'format_version = 1\n[address]\nhosts = ["a.example"]\n[files]\nenabled = true\n'
            'quota_bytes = "lots"\n',
            "files.quota_bytes must be an integer",
        ),
        (
            'format_version = 1\n[address]\nhosts = ["a.example"]\n[files]\nsize = 1\n',
            "unknown key",
        ),
    ],
)
def test_bad_files_are_explained(tmp_path: Path, text: str, complaint: str) -> None:
    (tmp_path / CONFIG_FILE).write_text(text)
    with pytest.raises(InvalidRelayConfig, match=complaint):
        RelayConfig.load(tmp_path)


def test_file_storage_is_off_by_default_and_round_trips(tmp_path: Path) -> None:
    assert RelayConfig(public_hosts=("a.example",)).files is None
    files = FileStoreSettings(Path("/srv/chunks"), quota_bytes=5 * 1024**3, retention_seconds=7200)
    RelayConfig(public_hosts=("a.example",), files=files).save(tmp_path)
    loaded = RelayConfig.load(tmp_path)
    assert loaded.files == files
    assert loaded.files.folder(tmp_path) == Path("/srv/chunks")
    assert FileStoreSettings().folder(tmp_path) == tmp_path / "files"


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


def test_init_on_a_loopback_host_listens_only_there(tmp_path: Path) -> None:
    runner = CliRunner()
    for name, hosts, listen in (
        ("local", ["--host", "127.0.0.1"], "127.0.0.1"),
        ("default", [], "127.0.0.1"),
        ("public", ["--host", "relay.example"], "0.0.0.0"),
    ):
        data = tmp_path / name
        result = runner.invoke(relay_cli, ["init", "--data", str(data), *hosts, "--json"])
        assert result.exit_code == 0, result.output
        assert RelayConfig.load(data).listen_host == listen


def test_init_records_the_proxy_allow_list_and_refuses_a_bad_network(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["init", "--data", str(tmp_path / "a"), "--proxy-allow", "10.0.0.0/8", "--json"]
    assert runner.invoke(relay_cli, args).exit_code == 0
    assert RelayConfig.load(tmp_path / "a").settings.proxy_allow == ("10.0.0.0/8",)
    bad = ["init", "--data", str(tmp_path / "b"), "--proxy-allow", "nonsense", "--json"]
    assert runner.invoke(relay_cli, bad).exit_code != 0


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


async def test_the_logs_table_reaches_the_relays_group_logs(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text(
        'format_version = 1\n[address]\nhosts = ["a.example"]\n[logs]\nmax_members = 1\n'
    )
    relay = await Relay(log_settings=RelayConfig.load(tmp_path).logs).start()
    client = await relay.client()
    admin = X25519KeyPair.generate(client.rng)
    created = await client.log_call(lc.CreateLog(admin.public), admin)
    assert isinstance(created, lr.LogCreated)
    writer = lc.AddWriter(X25519KeyPair.generate(client.rng).public)
    assert isinstance(await client.log_call(writer, admin, created.log_id), lr.WriterAdded)
    second = await client.log_call(writer, admin, created.log_id)
    assert second == rsp.ErrorResponse(TooManyMembers.code)

"""Production Redis forms for real: a worker and a producer through Redis Sentinel (with
passwords on the master and the sentinel), and through TLS with a private CA."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fake_x import EmulatorAdmin
from producers import Producer
from tests.support import Rtq, wait_for
from worker.core.keys import Keys
from worker.core.redis_client import connect
from worker.core.settings import Settings
from worker.domain.accounts import AccountStore, fernet_for
from worker.domain.dlq import DeadLetters
from worker.domain.jobs import JobStore
from worker.embedded.servers import RedisServer, WorkerProcess, find_redis_server, free_port

MASTER_PASSWORD = "master-pw-for-tests"
SENTINEL_PASSWORD = "sentinel-pw-for-tests"


def rtq_at(url: str, base_env: dict[str, str], admin: EmulatorAdmin) -> Rtq:
    """The test's view of rtq with RTQ_REDIS_URL set to `url`, built as the CLI builds it."""
    env = {**base_env, "RTQ_REDIS_URL": url}
    settings = Settings.from_env(env)
    client = connect(url)
    keys = Keys(settings.key_prefix)
    return Rtq(settings=settings, env=env, redis=client, admin=admin,
               producer=Producer(client, settings), jobs=JobStore(client, keys),
               dead_letters=DeadLetters(client, keys),
               accounts=AccountStore(client, keys, fernet_for(settings.secret_keys)))


def retweet_through_a_worker(rtq: Rtq, log_path: Path) -> str:
    """Start `rtq worker` on rtq's environment, retweet once, return the job id."""
    account = rtq.add_account()
    worker = WorkerProcess(rtq.env, log_path=str(log_path), extra_args=("--concurrency", "1"))
    try:
        worker.start()
        job_id = rtq.producer.enqueue("retweet", account.account_id, "1234")
        (status,) = rtq.wait_terminal(job_id)
    finally:
        worker.stop(timeout=10)  # also when start() failed: the process may still run
    assert status.state == "succeeded", status
    assert rtq.admin.state(account.account_id) == {account.account_id: ["1234"]}
    return job_id


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def master() -> Iterator[RedisServer]:
    """A private redis-server that requires a password (set once it is up)."""
    with RedisServer() as server:
        server.client().config_set("requirepass", MASTER_PASSWORD)
        yield server


@pytest.fixture
def sentinel_port(master: RedisServer, tmp_path: Path) -> Iterator[int]:
    """One sentinel on a free port watching `master` as "rtq-main", with a password of its own."""
    port = free_port()
    config = tmp_path / "sentinel.conf"  # the sentinel rewrites it, so it must be its own
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {tmp_path}\n"
        f"sentinel monitor rtq-main 127.0.0.1 {master.port} 1\n"
        f"sentinel auth-pass rtq-main {MASTER_PASSWORD}\nrequirepass {SENTINEL_PASSWORD}\n"
    )
    process = subprocess.Popen([find_redis_server(), str(config), "--sentinel"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sentinel = redis.Redis(port=port, password=SENTINEL_PASSWORD, socket_timeout=2)

    def knows_the_master() -> bool:
        assert process.poll() is None, "the sentinel exited"
        try:
            return bool(sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                                 "rtq-main"))
        except redis.ConnectionError:
            return False

    try:
        wait_for(knows_the_master, 15, "the sentinel to monitor the master")
        yield port
    finally:
        sentinel.close()
        stop(process)


def test_a_worker_and_a_producer_reach_the_master_through_sentinel(
    master: RedisServer, sentinel_port: int, rtq_env: dict[str, str], admin: EmulatorAdmin,
    tmp_path: Path,
) -> None:
    """With RTQ_REDIS_URL=sentinel://..., jobs are written to and run from the master that
    the sentinel names, authenticating to both."""
    url = (f"sentinel://:{MASTER_PASSWORD}@127.0.0.1:{sentinel_port}/0"
           f"?master=rtq-main&sentinel_password={SENTINEL_PASSWORD}")
    rtq = rtq_at(url, rtq_env, admin)
    assert rtq.redis.ping()
    job_id = retweet_through_a_worker(rtq, tmp_path / "worker.log")
    direct = redis.Redis(port=master.port, password=MASTER_PASSWORD, decode_responses=True)
    assert direct.hget(Keys("rtq").job(job_id), "state") == "succeeded"


@dataclass
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def write_tls_files(directory: Path) -> TlsFiles:
    """A private CA and a server certificate for 127.0.0.1 signed by it."""
    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str,
                    issuer_key: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    ca_cert = certificate("rtq test CA", ca_key, "rtq test CA", ca_key, ca=True)
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(certificate("127.0.0.1", server_key, "rtq test CA", ca_key, ca=False)
                           .public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return files


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, TlsFiles]]:
    """A private redis-server that speaks TLS only (no plain-text port)."""
    files = write_tls_files(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [find_redis_server(), "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(files.cert), "--tls-key-file", str(files.key),
         "--tls-ca-cert-file", str(files.ca), "--tls-auth-clients", "no", "--save", "",
         "--dir", str(tmp_path), "--maxmemory-policy", "noeviction"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = connect(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={files.ca}")

    def answers() -> bool:
        assert process.poll() is None, "the TLS redis-server exited"
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_for(answers, 15, "the TLS redis-server")
        yield port, files
    finally:
        client.close()
        stop(process)


def test_a_worker_and_a_producer_speak_tls_verified_against_a_given_ca(
    tls_redis: tuple[int, TlsFiles], rtq_env: dict[str, str], admin: EmulatorAdmin,
    tmp_path: Path,
) -> None:
    """rediss://...?ssl_ca_certs=PATH works end to end against a TLS-only Redis."""
    port, files = tls_redis
    rtq = rtq_at(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={files.ca}", rtq_env, admin)
    retweet_through_a_worker(rtq, tmp_path / "worker.log")


def test_tls_verifies_the_server_certificate_by_default(tls_redis: tuple[int, TlsFiles]) -> None:
    """Without the private CA the server's certificate is refused, not trusted blindly."""
    port, _ = tls_redis
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        connect(f"rediss://127.0.0.1:{port}/0").ping()


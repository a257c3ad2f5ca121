"""Who can reach the UI: real ``tunery ui`` servers on 127.0.0.1 or every interface, probed
over HTTP (httpx and raw sockets), and schemathesis's checks of the OpenAPI document against
them.  Every connection goes to 127.0.0.1, also when the server listens on 0.0.0.0."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

import httpx

from tests.helpers import create
from tests.test_ui_api import _add_trial, _doc
from tunery.controller import Controller
from tunery.execute.local import LocalExecutor
from tunery.model import TrialCondition
from tunery.storage import Store
from tunery.ui import exposure
from tunery.ui.exposure import HostNames, host_names, is_loopback, normal_name

REPO = Path(__file__).resolve().parents[1]
TOKEN = "exposure-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCHEMATHESIS_CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"

#: Every read of the API, on the filled database.
READS = [
    "/api/experiments",
    "/api/experiments/demo",
    "/api/experiments/demo/trials",
    "/api/experiments/demo/trial-columns",
    "/api/experiments/demo/trials/demo-0001",
    "/api/experiments/demo/importance",
    "/api/experiments/demo/trials.csv",
    "/api/experiments/demo/trials.json",
]
#: Host headers a DNS-rebinding page, a scanner or a confused proxy would send.
PROBES = [
    "evil.example",
    "evil.example:{port}",
    "localhost.evil.example",
    "127.0.0.1.nip.io:{port}",
    "rebind.attacker.test",
    "attacker.localhost",
    "10.1.2.3",
    "10.1.2.3:{port}",
    "127.0.0.2:{port}",
    "0.0.0.0:{port}",
    "[::ffff:127.0.0.1]:{port}",
    "[fe80::1]",
    "localhost.:{port}",
    "localhost:{port}@evil.example",
    "localhost:http",
    "",
]


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database filled by a real experiment (``demo``, trial subprocesses) and ``live``,
    with a running and a failed trial; each server gets its own copy."""
    tmp = tmp_path_factory.mktemp("exposure")
    store = Store(f"sqlite:///{tmp / 'tunery.db'}")
    try:
        create(store, _doc("demo"), tmp)
        Controller(store, "demo", LocalExecutor(), poll_interval=0.02).run()
        create(store, _doc("live"), tmp)
        _add_trial(store, "live", 0, TrialCondition.RUNNING)
        _add_trial(store, "live", 1, TrialCondition.FAILED, message="boom")
    finally:
        store.close()
    return tmp / "tunery.db"


@dataclass
class Server:
    base: str
    port: int
    stdout: str
    stderr: str


#: ``tunery ui`` of this checkout (PYTHONPATH below), whatever the venv has installed.
UI = [sys.executable, "-m", "tunery", "ui"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("TUNERY_UI_TOKEN", None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def tunery_ui(database: Path, tmp_path: Path, *args: str) -> Iterator[Server]:
    """``tunery ui --db <a copy of database> --port <free> --token TOKEN ARGS`` in a
    subprocess, until it answers on 127.0.0.1."""
    db = tmp_path / f"ui-{len(list(tmp_path.glob('ui-*.db')))}.db"
    shutil.copy(database, db)
    env = _env()
    for _attempt in range(3):
        port = _free_port()
        out, err = db.with_suffix(".out"), db.with_suffix(".err")
        with open(out, "w") as fo, open(err, "w") as fe:
            proc = subprocess.Popen(
                [*UI, "--db", f"sqlite:///{db}", "--port", str(port), "--token", TOKEN, *args],
                cwd=tmp_path,
                env=env,
                stdout=fo,
                stderr=fe,
            )
        try:
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    time.sleep(0.05)
            if proc.poll() is not None:
                if "address already in use" in err.read_text().lower():
                    continue  # another process took the port meanwhile
                pytest.fail(f"tunery ui exited: {err.read_text()}")
            if time.monotonic() >= deadline:
                pytest.fail("tunery ui did not start listening")
            yield Server(f"http://127.0.0.1:{port}", port, out.read_text(), err.read_text())
            return
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    pytest.fail("no free port for tunery ui")


def _raw(port: int, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` as is (httpx always adds a Host); the status and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


# --------------------------------------------------------------------------- modes


@pytest.mark.integration
def test_loopback_by_default_reads_open_writes_need_the_token(
    database: Path, tmp_path: Path
) -> None:
    with tunery_ui(database, tmp_path) as server:
        assert server.stderr == ""  # no warning on loopback
        assert f"tunery ui: http://127.0.0.1:{server.port}/" in server.stdout
        assert f"token for stop/kill/create: {TOKEN}" in server.stdout
        assert f"open signed in: http://127.0.0.1:{server.port}/#token={TOKEN}" in server.stdout
        with httpx.Client(base_url=server.base) as client:
            for path in READS:
                assert client.get(path).status_code == 200, path
            refused = client.post("/api/experiments/live/stop")
            assert refused.status_code == 401
            assert client.post("/api/experiments/live/stop", headers=AUTH).status_code == 202
            schema = client.get("/openapi.json").json()
        reads = [op for item in schema["paths"].values() for m, op in item.items() if m == "get"]
        assert reads and all("security" not in op and "401" not in op["responses"] for op in reads)


@pytest.mark.integration
def test_every_interface_warns_and_reads_need_the_token(database: Path, tmp_path: Path) -> None:
    with tunery_ui(database, tmp_path, "--host", "0.0.0.0") as server:
        # One line on stderr: reachable from the network, what needs the token, how to share.
        lines = server.stderr.splitlines()
        assert len(lines) == 1, server.stderr
        assert "warning" in lines[0] and "reachable from the network" in lines[0]
        assert "reads and writes need the token" in lines[0]
        assert "Authorization: Bearer" in lines[0] and "signed-in address" in lines[0]
        assert f"token for every /api call: {TOKEN}" in server.stdout
        assert f"#token={TOKEN}" in server.stdout
        assert "Host names answered: localhost, 127.0.0.1, [::1]" in server.stdout
        with httpx.Client(base_url=server.base) as client:
            for path in READS:
                for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                    refused = client.get(path, headers=headers)
                    assert refused.status_code == 401, (path, headers)
                    assert refused.headers["www-authenticate"] == "Bearer"
                    detail = refused.json()["detail"]
                    assert "token" in detail and "\n" not in detail
                assert client.get(path, headers=AUTH).status_code == 200, path
                lower = {"Authorization": f"bearer {TOKEN}"}
                assert client.get(path, headers=lower).status_code == 200, path
            # Writes need it too (and get it).
            assert client.post("/api/experiments/live/stop").status_code == 401
            assert client.post("/api/experiments/live/stop", headers=AUTH).status_code == 202
            # The page and its scripts hold no data: they load, and ask for the token.
            assert client.get("/").status_code == 200
            assert client.get("/static/app.js").status_code == 200
            schema = client.get("/openapi.json").json()
        for item in schema["paths"].values():
            for operation in item.values():
                assert operation["security"] == [{"HTTPBearer": []}]
                assert "401" in operation["responses"]


@pytest.mark.integration
def test_public_read_opens_reads_only(database: Path, tmp_path: Path) -> None:
    with tunery_ui(database, tmp_path, "--host", "0.0.0.0", "--public-read") as server:
        lines = server.stderr.splitlines()
        assert len(lines) == 1 and "reachable from the network" in lines[0]
        assert "anyone who can reach it can read your experiments" in lines[0]
        assert f"token for stop/kill/create: {TOKEN}" in server.stdout
        with httpx.Client(base_url=server.base) as client:
            for path in READS:
                assert client.get(path).status_code == 200, path
            assert client.post("/api/experiments/live/stop").status_code == 401
            assert client.post("/api/experiments", content="x").status_code == 401
            assert client.post("/api/experiments/live/stop", headers=AUTH).status_code == 202
            # DNS rebinding stays refused with reads open.
            assert (
                client.get("/api/experiments", headers={"Host": "evil.example"}).status_code == 421
            )


@pytest.mark.integration
@pytest.mark.parametrize(
    "args",
    [(), ("--host", "0.0.0.0"), ("--host", "0.0.0.0", "--public-read")],
    ids=["loopback", "every-interface", "public-read"],
)
def test_host_probes_are_refused_in_every_mode(
    database: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    extra = ("--allow-host", "ui.proxy.example", "--allow-host", "*.corp.example")
    with tunery_ui(database, tmp_path, *args, *extra) as server:
        port = server.port
        with httpx.Client(base_url=server.base, headers=AUTH) as client:
            for probe in PROBES:
                host = probe.format(port=port)
                for path in ("/api/experiments", "/", "/openapi.json", "/static/app.js"):
                    response = client.get(path, headers={"Host": host})
                    assert response.status_code == 421, (host, path, response.text)
                    detail = response.json()["detail"]
                    assert detail.startswith("host:") and "\n" not in detail
                refused = client.post("/api/experiments/live/stop", headers={"Host": host})
                assert refused.status_code == 421, host
            for host in ("ui.proxy.example.evil", "corp.example", "proxy.example"):
                assert client.get("/", headers={"Host": host}).status_code == 421, host
            allowed = [
                f"127.0.0.1:{port}",
                f"localhost:{port}",
                f"LOCALHOST:{port}",
                f"[::1]:{port}",
                "127.0.0.1",
                "ui.proxy.example",
                f"ui.proxy.example:{port}",
                "a.corp.example",
                "b.a.corp.example:443",
            ]
            if args:  # every interface: the machine's own names too
                allowed.append(f"{host_names('0.0.0.0')[3]}:{port}")
            for host in allowed:
                response = client.get("/api/experiments", headers={"Host": host})
                assert response.status_code == 200, (host, response.text)
        # No Host at all (HTTP/1.0), and two of them.
        status, body = _raw(port, b"GET /api/experiments HTTP/1.0\r\n\r\n")
        assert status == 421 and b"no Host header" in body
        status, _ = _raw(
            port,
            b"GET /api/experiments HTTP/1.1\r\nHost: evil.example\r\nHost: 127.0.0.1\r\n"
            b"Connection: close\r\n\r\n",
        )
        assert status in (400, 421)


def test_allow_host_cannot_turn_the_check_off(tmp_path: Path) -> None:
    env = _env()
    for value in ("*", "", "bad name", "a..b"):
        proc = subprocess.run(
            [*UI, "--db", f"sqlite:///{tmp_path / 'x.db'}", "--allow-host", value],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2, (value, proc.stdout, proc.stderr)
        assert "--allow-host" in proc.stderr


# --------------------------------------------------------------------------- the OpenAPI document


@pytest.mark.integration
@pytest.mark.parametrize(
    "args", [(), ("--host", "0.0.0.0")], ids=["loopback", "reads-need-the-token"]
)
def test_schemathesis_finds_the_document_true(
    database: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    """schemathesis's checks (every one; tests/schemathesis.toml) over every operation of a
    real server: any response that the document does not describe (status, content type,
    schema, headers), any 5xx, refused valid or accepted invalid input fails.  Bounded: 15
    examples an operation, deterministic.  A longer pass: docs/ui.md."""
    pytest.importorskip("schemathesis")
    with tunery_ui(database, tmp_path, *args) as server:
        # Every operation the server documents is checked (counted here, not hard-coded).
        paths = httpx.get(f"{server.base}/openapi.json").json()["paths"]
        operations = sum(
            1
            for item in paths.values()
            for method in item
            if method in ("get", "put", "post", "delete", "patch")
        )
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
                "--config-file",
                str(SCHEMATHESIS_CONFIG),
                "--no-color",
                "run",
                f"{server.base}/openapi.json",
                "--header",
                f"Authorization: Bearer {TOKEN}",
                "--max-examples",
                "15",
                "--generation-deterministic",
                "--workers",
                "1",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-8000:]
    assert operations >= 14 and f"{operations} selected / {operations} total" in output
    assert re.search(r"\d+ generated, \d+ passed", output), output[-3000:]


# --------------------------------------------------------------------------- pieces


def test_host_names_by_bind_address() -> None:
    assert host_names("127.0.0.1") == ["localhost", "127.0.0.1", "[::1]"]
    assert host_names("localhost")[:3] == ["localhost", "127.0.0.1", "[::1]"]
    assert host_names("::1") == ["localhost", "127.0.0.1", "[::1]"]
    assert host_names("127.0.0.5") == ["localhost", "127.0.0.1", "[::1]", "127.0.0.5"]
    every = host_names("0.0.0.0", ["ui.proxy.example"])
    assert every[:3] == ["localhost", "127.0.0.1", "[::1]"]
    assert normal_name(socket.gethostname()) in every
    assert every[-1] == "ui.proxy.example"
    assert host_names("::") == host_names("0.0.0.0")
    one = host_names("192.0.2.7")
    assert one[0] == "192.0.2.7" and "127.0.0.1" not in one
    with pytest.raises(ValueError, match="cannot be turned off"):
        host_names("127.0.0.1", ["*"])


def test_loopback_addresses() -> None:
    for host in ("127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "", "192.0.2.7", "10.0.0.1", "::ffff:10.0.0.1"):
        assert not is_loopback(host), host


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("localhost", True),
        ("localhost:8080", True),
        ("LocalHost:1", True),
        ("127.0.0.1", True),
        ("[::1]:80", True),
        ("[0:0:0:0:0:0:0:1]", True),
        ("localhost:", True),
        ("x.corp.example", True),
        ("corp.example", False),
        ("xcorp.example", False),
        ("localhost:80:80", False),
        ("localhost:-1", False),
        ("localhost:1234567", False),
        ("[::1", False),
        ("::1", False),
        ("[::1]x", False),
        ("127.0.0.1 ", True),
        ("evil.example", False),
        ("localhost.evil.example", False),
        ("localhost.", False),
        ("", False),
        (None, False),
        ("l\u0131calhost", False),
    ],
)
def test_host_header_matching(header: str | None, ok: bool) -> None:
    names = HostNames(["localhost", "127.0.0.1", "[::1]", "*.corp.example"])
    assert names.allows(header) is ok


def test_machine_names_leave_out_link_local() -> None:
    names = exposure.machine_names()
    assert names[:3] == ["localhost", "127.0.0.1", "[::1]"]
    assert not any(n.startswith("[fe80:") for n in names)


# --------------------------------------------------------------------------- patterns


def _accepts(app_module: Any, kind: str, value: str) -> bool:
    from fastapi.testclient import TestClient

    store = Store("sqlite://")
    try:
        client = TestClient(app_module.create_app(store, "t"), base_url="http://127.0.0.1")
        response = client.get("/api/experiments/none/trials", params={kind: value})
        return response.status_code == 404  # past the argument checks, to the unknown name
    finally:
        store.close()


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("status", "Running"),
        ("status", " Running , Failed "),
        ("status", "Running,,Failed"),
        ("status", "Running,"),
        ("status", "Running\t"),
        ("status", "running"),
        ("status", "Running\n"),
        ("sort", "-objective"),
        ("sort", "param:x\n"),
        ("sort", "metric:a:b"),
        ("sort", "param:"),
        ("sort", "--index"),
        ("sort", "index\n"),
        ("sort", "-"),
        ("after", "v1.3.1700000000.123"),
        ("after", "v1.-1.-"),
        ("after", "v1.3.1.5e-07"),
        ("after", "v1.3.1e+16"),
        ("after", "v1.3.1e+300"),
        ("after", "v1.3.nan"),
        ("after", "v1.3.inf"),
        ("after", "v1. 3.-"),
        ("after", "v1.99999999999999999999.-"),
        ("after", "v1.3.-\n"),
    ],
)
def test_query_patterns_are_what_the_server_enforces(kind: str, value: str) -> None:
    from tunery.ui import app, schemas

    pattern = {
        "status": schemas.STATUS_PATTERN,
        "sort": schemas.SORT_PATTERN,
        "after": schemas.CURSOR_PATTERN,
    }
    documented = re.fullmatch(pattern[kind], value) is not None
    assert _accepts(app, kind, value) is documented


def test_every_cursor_the_server_hands_out_fits_its_pattern() -> None:
    from tunery.ui.queries import Cursor
    from tunery.ui.schemas import CURSOR_PATTERN

    for index in (-1, 0, 7, 10**17):
        for completion in (
            None,
            0.0,
            -0.0,
            1.5e-7,
            1e-300,
            5e-324,
            1700000000.123456,
            1e16,
            2**53 + 0.0,
            1.2345678901234567e200,
            0.00012345678901234567,
        ):
            text = Cursor(index, completion).encode()
            assert re.fullmatch(CURSOR_PATTERN, text), text

"""Raw sources: content-hash data versions, and the pinned, verified download (against a local HTTP server)."""

import functools
import http.server
import shutil
import socket
import threading

import pytest

from medimind_assets.data import sources
from medimind_assets.data.errors import DownloadError, RawDataError


def test_data_version_is_the_content_hash(shared_data, tmp_path):
    original = sources.snapshot(shared_data, sources.MEDQUAD)
    copy = tmp_path / "raw"
    shutil.copytree(shared_data / "medquad", copy / "medquad")
    assert sources.snapshot(copy, sources.MEDQUAD).data_version == original.data_version
    target = next((copy / "medquad" / "9_CDC_QA").glob("*.xml"))
    target.write_bytes(target.read_bytes().replace(b"</Answer>", b" </Answer>", 1))
    changed = sources.snapshot(copy, sources.MEDQUAD)
    assert changed.data_version != original.data_version
    assert sum(not f.matches_upstream for f in changed.files) == 1


def test_real_files_match_their_pins(shared_data):
    snap = sources.snapshot(shared_data, sources.MEDIQA)
    assert all(f.matches_upstream for f in snap.files)
    assert snap.totals["correct_answers"] == 229 + 405 + 94 + 572


def test_missing_required_file_is_named(tmp_path, shared_data):
    raw = tmp_path / "raw"
    shutil.copytree(shared_data / "mediqa2019_qa", raw / "mediqa2019_qa")
    (raw / "mediqa2019_qa" / "MEDIQA_Task3_QA" / "MEDIQA2019-Task3-QA-TestSet-wLabels.xml").unlink()
    with pytest.raises(RawDataError, match="required file.*TestSet-wLabels.xml"):
        sources.snapshot(raw, sources.MEDIQA)


@pytest.fixture
def http_server(tmp_path):
    """A loopback HTTP server; yields (root folder it serves, base URL)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_fetches_and_verifies_every_pinned_file(http_server, shared_data, tmp_path):
    served, url = http_server
    shutil.copytree(shared_data / "mediqa2019_qa", served / "mediqa2019_qa")
    raw = tmp_path / "raw"
    snap = sources.download(raw, sources.MEDIQA, url=f"{url}/mediqa2019_qa")
    assert snap.downloaded
    assert (raw / "mediqa2019_qa" / "README.md").is_file()
    assert snap.data_version == sources.snapshot(shared_data, sources.MEDIQA).data_version
    assert sorted(p.name for p in raw.iterdir()) == ["mediqa2019_qa"]  # no staging folder left behind


def test_a_download_into_a_folder_holding_other_files_keeps_them_and_is_readable(http_server, shared_data, tmp_path):
    """Notes and an archive being unpacked in the source's folder were deleted by the download's move into place;
    the folder came out owner-only (0700), unreadable to a daemon running as another user."""
    served, url = http_server
    shutil.copytree(shared_data / "mediqa2019_qa", served / "mediqa2019_qa")
    raw = tmp_path / "raw"
    mine = raw / "mediqa2019_qa"
    mine.mkdir(parents=True)
    (mine / "NOTES.txt").write_text("where these came from")
    (mine / "upstream.zip").write_bytes(b"PK")
    sources.download(raw, sources.MEDIQA, url=f"{url}/mediqa2019_qa")
    assert (mine / "NOTES.txt").read_text() == "where these came from" and (mine / "upstream.zip").is_file()
    assert (mine / "README.md").is_file()
    fresh = tmp_path / "fresh"
    sources.download(fresh, sources.MEDIQA, url=f"{url}/mediqa2019_qa")
    assert (fresh / "mediqa2019_qa").stat().st_mode & 0o055 == 0o055


def test_ensure_downloads_only_when_absent(http_server, shared_data, tmp_path):
    served, url = http_server
    shutil.copytree(shared_data / "medquad", served / "medquad")
    raw = tmp_path / "raw"
    assert sources.ensure(raw, sources.MEDQUAD, url=f"{url}/medquad").downloaded
    assert not sources.ensure(raw, sources.MEDQUAD, url="http://127.0.0.1:9/never-asked").downloaded


def test_tampered_download_is_refused_and_nothing_is_kept(http_server, shared_data, tmp_path):
    served, url = http_server
    shutil.copytree(shared_data / "mediqa2019_qa", served / "mediqa2019_qa")
    tampered = served / "mediqa2019_qa" / "MEDIQA_Task3_QA" / "MEDIQA2019-Task3-QA-ValidationSet.xml"
    tampered.write_bytes(tampered.read_bytes() + b"\n")
    raw = tmp_path / "raw"
    with pytest.raises(DownloadError, match="ValidationSet.xml.*sha256 is .*expected d27b9a20"):
        sources.download(raw, sources.MEDIQA, url=f"{url}/mediqa2019_qa")
    assert not (raw / "mediqa2019_qa").exists()
    assert list(raw.iterdir()) == []


def test_offline_error_names_file_location_and_variable(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    raw = tmp_path / "raw"
    with pytest.raises(DownloadError) as info:
        sources.download(raw, sources.MEDIQA, url=f"http://127.0.0.1:{port}/x", timeout=5)
    message = str(info.value)
    assert "download from http://127.0.0.1" in message and "cannot be reached" in message
    assert str(raw / "mediqa2019_qa") in message and "MEDIMIND_RAW_DIR" in message
    assert not info.value.retryable  # an unreachable host is said at once, not after minutes of retries


class _Unavailable(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        self.send_error(503, "busy")

    def log_message(self, *args) -> None:
        pass


def test_only_transient_failures_are_worth_retrying(http_server, tmp_path):
    _, url = http_server  # serves an empty folder: every pinned file is missing (404)
    with pytest.raises(DownloadError, match="HTTP 404") as missing:
        sources.download(tmp_path / "a", sources.MEDIQA, url=url, timeout=5)
    assert not missing.value.retryable
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(DownloadError, match="HTTP 503") as busy:
            sources.download(tmp_path / "b", sources.MEDIQA, url=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert busy.value.retryable

"""`signlang serve` end to end: the real server (the `signlang` command, on a free port) and the real page in
Debian's headless Chromium driven by Playwright, whose fake camera plays a shared clip; plus the server's
defences, spoken to directly with the `websockets` client and http.client.

Nothing downloads a browser: Playwright starts /usr/bin/chromium (`.ci/run` installs it).
"""

import http.client
import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, VIDEOS, need

from signlang import config
from signlang.sources import open_source

CHROMIUM = Path("/usr/bin/chromium")
HELLO = VIDEOS / "merins7__SignFLIP1__hello.mp4"
MODEL = ROOT / config.MODEL_PATH
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]

websockets = pytest.importorskip("websockets", reason="the websockets client is in requirements.txt")
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402


def signlang(*args):
    return [str(Path(sys.executable).with_name("signlang")), *map(str, args)]


def jpeg(image, quality=80):
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def hello_frames():
    """The hello clip sampled at the training rate, fitted into 640x480 (even sides, for YUV 4:2:0)."""
    frames = [f.image for f in open_source(need(HELLO), config.FPS)]
    h, w = frames[0].shape[:2]
    scale = min(640 / w, 480 / h)
    size = (round(w * scale) // 2 * 2, round(h * scale) // 2 * 2)
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]


def write_y4m(path, frames, fps):
    """Frames as a raw .y4m video, the format Chromium's fake camera plays (and loops)."""
    h, w = frames[0].shape[:2]
    with open(path, "wb") as file:
        file.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            file.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


# --- the server ---------------------------------------------------------------------------------------------

class Server:
    def __init__(self, data):
        self.data = data
        self.process = subprocess.Popen(signlang("serve", "--port", 0, "--model", MODEL, "--data", data),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=data.parent)
        line, deadline = "", time.monotonic() + 180
        while not line and time.monotonic() < deadline and self.process.poll() is None:
            if select.select([self.process.stdout], [], [], 1)[0]:
                line = self.process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not match:
            self.stop()
            pytest.fail(f"signlang serve printed no address: {line!r} {self.process.stderr.read()[-2000:]}")
        self.url, self.port = match.group(0), int(match.group(1))
        self.ws = f"ws://127.0.0.1:{self.port}/ws"

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not MODEL.is_file():
        pytest.skip(f"{MODEL} (the shipped model) is absent")
    server = Server(tmp_path_factory.mktemp("serve") / "MP_Data")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium (.ci/run does) for the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (requirements.txt) is not installed")
    camera = write_y4m(tmp_path_factory.mktemp("camera") / "hello.y4m", hello_frames(), int(config.FPS))
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=FLAGS + [f"--use-file-for-fake-video-capture={camera}"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context()
    page = context.new_page()
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    yield page
    context.close()


# --- the page in Chromium -----------------------------------------------------------------------------------

def test_the_page_reads_hello_from_the_camera(page, server):
    page.goto(server.url)
    page.wait_for_function("document.getElementById('sentence').textContent.split(' ').includes('hello')",
                           timeout=90_000)
    assert page.locator("#bars .bar .name").all_text_contents() == ["hello", "thanks", "iloveyou"]
    assert re.fullmatch(r"\d+\.\d frames/s", page.locator("#fps").text_content())
    assert page.locator("#message").is_hidden()
    # the picture and its landmarks are drawn: the canvas is not blank
    pixels = page.evaluate("""() => { const c = document.getElementById('view');
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.slice(0, 40000)); }""")
    assert len(set(pixels)) > 10
    assert all(url.startswith(server.url) or url.startswith(server.ws) for url in page.requests), page.requests


@pytest.mark.parametrize("error,shown", [("NotAllowedError", "refused"), ("NotFoundError", "No camera was found")])
def test_the_page_says_when_the_camera_is_refused_or_absent(page, server, error, shown):
    page.add_init_script(f"""navigator.mediaDevices.getUserMedia =
        () => Promise.reject(new DOMException("no camera here", "{error}"));""")
    page.goto(server.url)
    page.wait_for_selector("#message", state="visible", timeout=30_000)
    assert shown in page.locator("#message").text_content()


def test_recording_mode_writes_the_mp_data_tree(page, server):
    existing = server.data / "thanks" / "0"  # a recording already there: kept, and numbering goes on after it
    existing.mkdir(parents=True)
    np.save(existing / "0.npy", np.ones(1662, dtype=np.float32))
    page.goto(server.url + "#record")
    page.fill("#action", "../outside")
    page.click("#record")
    page.wait_for_function("document.getElementById('record-status').textContent.includes('not usable')",
                           timeout=30_000)
    page.fill("#action", "thanks")
    page.fill("#sequences", "2")
    page.click("#record")
    page.wait_for_function("document.getElementById('record-status').textContent.startsWith('Done')", timeout=90_000)
    assert "thanks/1, thanks/2" in page.locator("#record-status").text_content()
    for number in (1, 2):
        sequence = server.data / "thanks" / str(number)
        assert sorted(p.name for p in sequence.iterdir()) == sorted(f"{i}.npy" for i in range(config.SEQUENCE_LENGTH))
        frames = np.stack([np.load(sequence / f"{i}.npy") for i in range(config.SEQUENCE_LENGTH)])
        assert frames.shape == (config.SEQUENCE_LENGTH, 1662) and frames[:, :132].any()  # a pose was found
    assert sorted(p.name for p in (server.data / "thanks").iterdir()) == ["0", "1", "2"]  # no temporary folder left
    assert np.load(existing / "0.npy").sum() == 1662 and sorted(os.listdir(existing)) == ["0.npy"]
    assert sorted(p.name for p in server.data.iterdir()) == ["thanks"]
    assert not (server.data.parent / "outside").exists()


def test_a_video_file_is_processed_like_detect(page, server, tmp_path):
    page.goto(server.url + "#video")
    page.set_input_files("#file", str(need(HELLO)))
    page.wait_for_selector("#upload-result", state="visible", timeout=90_000)
    assert page.locator("#upload-sentence").text_content() == "hello"
    link = page.locator("#download").get_attribute("href")
    download = page.request.get(server.url.rstrip("/") + link)
    assert download.ok and download.headers["content-type"] == "video/mp4"
    video = tmp_path / "annotated.mp4"
    video.write_bytes(download.body())
    cap = cv2.VideoCapture(str(video))
    assert cap.isOpened() and cap.get(cv2.CAP_PROP_FRAME_COUNT) == len(list(open_source(HELLO, config.FPS)))
    cap.release()


# --- the server's defences -----------------------------------------------------------------------------------

def test_a_cross_origin_websocket_is_refused(server):
    with connect(server.ws, origin="http://evil.example", open_timeout=60) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(60)
    assert closed.value.rcvd.code == 1008
    status, _ = http_request(server, "GET", "/", headers={"Host": "evil.example"})  # DNS rebinding
    assert status == 400


def test_an_oversized_frame_gets_an_error_and_the_server_keeps_serving(server):
    frame = jpeg(hello_frames()[10])

    with connect(server.ws, origin=server.url.rstrip("/"), max_size=None) as ws:
        assert json.loads(ws.recv(60))["type"] == "hello"
        ws.send(os.urandom(3 * 2**20))
        error = json.loads(ws.recv(60))
        ws.send(frame)  # the same connection goes on
        result = json.loads(ws.recv(60))
        ws.send("{not json")  # a broken message closes this connection only
        json.loads(ws.recv(60))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(60)
    code = closed.value.rcvd.code
    with connect(server.ws, max_size=None) as ws:  # a new connection works
        assert json.loads(ws.recv(60))["type"] == "hello"
        ws.send(frame)
        again = json.loads(ws.recv(60))
    assert error["type"] == "error" and "more than the 2 MB" in error["error"]
    assert result["type"] == "result" and result["landmarks"]["pose"] and len(result["landmarks"]["face"]) == 936
    assert code == 1003
    assert again["type"] == "result"
    assert server.alive()


def test_a_bad_action_name_is_refused(server):
    replies = []
    with connect(server.ws, max_size=None) as ws:
        ws.recv(60)
        for action in ("../../etc", ".hidden", "a/b", "", 7):
            ws.send(json.dumps({"type": "record", "action": action, "sequences": 1}))
            replies.append(json.loads(ws.recv(60)))
        ws.send(json.dumps({"type": "record", "action": "hello", "sequences": 10**6}))
        replies.append(json.loads(ws.recv(60)))
    assert all(r["type"] == "error" for r in replies), replies
    assert all("not usable as an action name" in r["error"] for r in replies[:-1])
    assert "number of sequences" in replies[-1]["error"]
    assert not server.data.exists() or not [p for p in server.data.iterdir() if p.name not in ("thanks",)]


def test_an_oversized_or_foreign_upload_is_refused(server):
    status, body = http_request(server, "POST", "/upload?name=big.mp4", headers={"Content-Length": str(300 * 2**20)})
    assert status == 413 and "more than the 200 MB" in json.loads(body)["error"]
    status, body = http_request(server, "POST", "/upload?name=clip.mp4", body=b"x" * 10,
                                headers={"Origin": "http://evil.example"})
    assert status == 403
    status, body = http_request(server, "POST", "/upload?name=notes.txt", body=b"x" * 10)
    assert status == 400 and "not a video file" in json.loads(body)["error"]
    status, body = http_request(server, "POST", "/upload?name=broken.mp4", body=b"x" * 1000)
    assert status == 400 and json.loads(body)["error"] == "broken.mp4: cannot be decoded as a video"
    assert server.alive()


def http_request(server, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.putrequest(method, path, skip_host="Host" in (headers or {}))
        for name, value in {**({"Content-Length": str(len(body))} if body is not None else {}), **(headers or {})}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# --- the command line -----------------------------------------------------------------------------------------

def test_serve_errors_are_one_line(tmp_path, server):
    for args, expected in [(("--model", tmp_path / "missing.h5", "--port", 0), "missing.h5: no such model file"),
                           (("--port", server.port), "cannot listen on 127.0.0.1")]:
        result = subprocess.run(signlang("serve", *args), check=False, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("signlang: error: ") and expected in result.stderr


def test_the_notebook_can_start_the_server_in_the_background(tmp_path):
    """Step 11's SERVE cell: serve_in_background, then stop()."""
    if not MODEL.is_file():
        pytest.skip(f"{MODEL} (the shipped model) is absent")
    from signlang.web import serve_in_background
    address, stop = serve_in_background(MODEL, "127.0.0.1", 0, tmp_path / "MP_Data")
    try:
        port = int(re.search(r":(\d+)/$", address).group(1))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200 and b'id="sentence"' in response.read()
        connection.close()
    finally:
        stop()

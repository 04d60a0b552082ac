"""`signlang serve` speed: frames/s and end-to-end latency per frame through the server, against Holistic alone
on the same frames, side by side in one run.

The shared clips are sampled at the training rate (25 frames/s) and fitted into 640x480 and centred on a black 640x480 frame (a webcam's), then
JPEG-encoded once (quality 80, as the page's canvas.toBlob). Through the server: `signlang serve` in its own
process, a WebSocket client that sends one frame and waits for its result before sending the next (the page's
protocol), a new connection (and so a new Holistic graph) per clip; latency is send to result received.
Holistic alone: keypoints.mediapipe_detection on the decoded frames, a new graph per clip, in this process.
The two alternate clip by clip, so a shared machine's load hits both alike.
Then, where Debian's Chromium is installed, the page itself (--page-seconds, 0 skips it): headless Chromium
whose fake camera plays the same JPEG frames (an MJPEG file), the times of each frame sent and of each result
received taken at the page's WebSocket; the browser shares the machine's cores with the server.
"""

import argparse
import asyncio
import json
import os
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from signlang import config  # noqa: E402
from signlang import keypoints as kp
from signlang.session import FRAME_BOX  # noqa: E402
from signlang.sources import open_source  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
CHROMIUM = Path("/usr/bin/chromium")


def webcam_frame(image):
    """The clip's frame fitted into 640x480 and centred on a black 640x480 frame, as a webcam gives it."""
    scale = min(1.0, FRAME_BOX[0] / image.shape[1], FRAME_BOX[1] / image.shape[0])
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if scale < 1 else image
    frame = np.zeros((FRAME_BOX[1], FRAME_BOX[0], 3), np.uint8)
    top, left = (FRAME_BOX[1] - size[1]) // 2, (FRAME_BOX[0] - size[0]) // 2
    frame[top:top + size[1], left:left + size[0]] = image
    return frame


def start_server(model):
    command = [str(Path(sys.executable).with_name("signlang")), "serve", "--port", "0", "--model", model]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line, deadline = "", time.monotonic() + 300
    while not line and time.monotonic() < deadline and server.poll() is None:
        if select.select([server.stdout], [], [], 1)[0]:
            line = server.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not match:
        server.kill()
        sys.exit(f"signlang serve did not start: {line!r}")
    return server, f"ws://127.0.0.1:{match.group(1)}/ws"


def through_server(address, jpegs):
    """Seconds for the clip, and each frame's latency (send to result received)."""
    return asyncio.run(_through_server(address, jpegs))


async def _through_server(address, jpegs):
    latencies = []
    async with connect(address, max_size=None) as ws:
        json.loads(await ws.recv())  # the welcome message
        start = time.perf_counter()
        for data in jpegs:
            sent = time.perf_counter()
            await ws.send(data)
            result = json.loads(await ws.recv())
            latencies.append(time.perf_counter() - sent)
            if result["type"] != "result":
                sys.exit(f"the server answered {result}")
        return time.perf_counter() - start, latencies


# Installed before the page's script runs: when each frame (binary message) goes and each result comes.
STOPWATCH = """(() => {
  window.stopwatch = { sent: [], results: [] };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (typeof data !== "string") stopwatch.sent.push(performance.now());
    return send.call(this, data);
  };
  const listen = WebSocket.prototype.addEventListener;
  Object.defineProperty(WebSocket.prototype, "onmessage", { set(handler) {
    listen.call(this, "message", (event) => {
      if (typeof event.data === "string" && event.data.startsWith('{"type": "result"')) {
        stopwatch.results.push(performance.now());
      }
      handler(event);
    });
  } });
})();"""


def through_page(url, jpegs, seconds):
    """Frames/s of the page in headless Chromium over `seconds`, and each frame's latency (send to result)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        camera = Path(tmp) / "camera.mjpeg"
        camera.write_bytes(b"".join(data for clip in jpegs for data in clip))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={camera}"])
            page = browser.new_page()
            page.add_init_script(STOPWATCH)
            page.goto(url)
            page.wait_for_function("stopwatch.results.length > 25", timeout=120_000)  # the graph's start-up
            start = page.evaluate("stopwatch.results.length")
            time.sleep(seconds)
            sent, results = page.evaluate("[stopwatch.sent, stopwatch.results]")
            browser.close()
    sent, results = sent[start:len(results)], results[start:]  # one frame in flight: the k-th result answers the k-th
    return (len(results) - 1) / ((results[-1] - results[0]) / 1000), [(r - s) / 1000 for s, r in zip(sent, results)]


def holistic_alone(images):
    """Seconds for the clip, and each Holistic call's duration."""
    calls = []
    with kp.open_holistic() as holistic:
        start = time.perf_counter()
        for image in images:
            t = time.perf_counter()
            kp.mediapipe_detection(image, holistic)
            calls.append(time.perf_counter() - t)
        return time.perf_counter() - start, calls


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=config.MODEL_PATH, help="model file (.h5)")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the clips")
    parser.add_argument("--page-seconds", type=float, default=60, help="the page in Chromium for so long (0: not)")
    args = parser.parse_args()
    videos = sorted((SHARED / "videos").glob("*.mp4"))
    if not videos or not Path(args.model).is_file():
        sys.exit(f"bench/serve.py needs the shared clips ({SHARED / 'videos'}) and a model ({args.model})")

    clips = [[webcam_frame(f.image) for f in open_source(v, config.FPS)] for v in videos]
    jpegs = [[cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes() for image in clip]
             for clip in clips]
    n = sum(map(len, clips))
    print(f"{len(clips)} shared clips, {n} frames sampled at {config.FPS:g} fps, fitted into "
          f"{FRAME_BOX[0]}x{FRAME_BOX[1]} frames, JPEG {sum(len(d) for clip in jpegs for d in clip) / n / 1024:.0f} KB a frame on average")
    server, address = start_server(args.model)
    try:
        through_server(address, jpegs[0][:5])  # warm-up: the first graph and the predictor's first call
        seconds = {"holistic": 0.0, "server": 0.0}
        latencies, calls = [], []
        for _ in range(args.rounds):
            for images, data in zip(clips, jpegs):
                s, c = holistic_alone(images)
                seconds["holistic"] += s
                calls += c
                s, lat = through_server(address, data)
                seconds["server"] += s
                latencies += lat
        page = args.page_seconds > 0 and CHROMIUM.exists()
        if page:
            page_rate, page_latencies = through_page(address.replace("ws://", "http://").removesuffix("ws"), jpegs,
                                                     args.page_seconds)
    finally:
        server.terminate()
        server.wait()
    rate = {k: args.rounds * n / s for k, s in seconds.items()}
    call = statistics.median(calls)
    latency = statistics.median(latencies)
    p90 = statistics.quantiles(latencies, n=10)[-1]
    print(f"{'':<22}{'frames/s':>10}{'median ms':>11}{'p90 ms':>8}")
    print(f"{'Holistic alone':<22}{rate['holistic']:>10.1f}{1000 * call:>11.1f}"
          f"{1000 * statistics.quantiles(calls, n=10)[-1]:>8.1f}   (per Holistic call)")
    print(f"{'through signlang serve':<22}{rate['server']:>10.1f}{1000 * latency:>11.1f}{1000 * p90:>8.1f}   "
          f"(send to result received)")
    if page:
        print(f"{'the page in Chromium':<22}{page_rate:>10.1f}{1000 * statistics.median(page_latencies):>11.1f}"
              f"{1000 * statistics.quantiles(page_latencies, n=10)[-1]:>8.1f}   (send to result received, "
              f"{args.page_seconds:g} s)")
    print(f"serve: {rate['server'] / rate['holistic']:.2f}x Holistic alone's frames/s; median latency "
          f"{latency / call:.2f} Holistic calls [{args.rounds} rounds interleaved clip by clip, "
          f"load average {os.getloadavg()[0]:.1f}]")
    if page:
        print(f"the page: {page_rate / rate['holistic']:.2f}x; median latency "
              f"{statistics.median(page_latencies) / call:.2f} Holistic calls (the browser on the same cores)")
    else:
        print(f"the page: not measured ({CHROMIUM} absent or --page-seconds 0)")


if __name__ == "__main__":
    main()

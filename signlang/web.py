"""`signlang serve`: the live demo as a local web page, for wherever a browser can open the camera but
Python cannot open a window (a remote or hosted notebook, WSL, Docker). A Starlette app on uvicorn.

    GET  /                          the page (signlang/static: plain HTML, JS, CSS; nothing from elsewhere)
    WS   /ws                        JPEG frames in, one result per frame out (a signlang.session.Session each)
    POST /upload?name=<file name>   a video file (the request body), run like `signlang detect --out`
    GET  /results/<id>/annotated.mp4  the annotated video of an upload

Frames are never queued: the page sends the next frame when the previous result arrives, and the
server keeps at most one frame waiting (a newer one replaces it), so latency stays bounded.

Security: listens on 127.0.0.1 unless --host says otherwise; a request must name this server in its Host
header (no DNS rebinding); a WebSocket or upload from another origin is refused (close code 1008, HTTP
403); frames (2 MB) and uploads (200 MB) are bounded with a clear error; action names pass collect's
check_action; a message the server cannot use closes that connection only.
"""

import asyncio
import json
import logging
import re
import secrets
import shutil
import socket
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from signlang import config, realtime
from signlang.errors import SignlangError
from signlang.predictor import load_predictor
from signlang.session import MAX_FRAME_BYTES, Session, SharedPredictor
from signlang.sources import VIDEO_EXTENSIONS, open_source

STATIC = Path(__file__).with_name("static")
MAX_UPLOAD_BYTES = 200 * 2**20
MAX_CONNECTIONS = 4      # live connections at once: each holds a Holistic graph
MAX_RESULTS = 5          # annotated videos kept for download (the oldest is removed)
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
POLICY_VIOLATION, UNSUPPORTED_DATA, INTERNAL_ERROR, TRY_AGAIN_LATER = 1008, 1003, 1011, 1013
log = logging.getLogger("signlang.web")


def create_app(model_path=config.MODEL_PATH, data_path=config.DATA_PATH, host="127.0.0.1"):
    """The app, with the model's LiteRT predictor loaded once (a bad model fails here) and shared."""
    predictor = SharedPredictor(load_predictor(model_path))
    results = Path(tempfile.mkdtemp(prefix="signlang-serve-"))

    @asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            shutil.rmtree(results, ignore_errors=True)

    hosts = ["*"] if host in WILDCARD_HOSTS else sorted({"127.0.0.1", "localhost", "::1", host.strip("[]")})
    app = Starlette(routes=[Route("/", page), WebSocketRoute("/ws", live), Route("/upload", upload, methods=["POST"]),
                            Route("/results/{job}/annotated.mp4", result),
                            Mount("/static", StaticFiles(directory=STATIC), name="static")],
                    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)], lifespan=lifespan)
    app.state.predictor, app.state.data_path, app.state.results = predictor, Path(data_path), results
    app.state.connections, app.state.video_lock = 0, asyncio.Lock()
    return app


def same_origin(headers):
    """True unless an Origin header names another site (browsers always send one on WebSockets and uploads)."""
    origin = headers.get("origin")
    return origin is None or origin in (f"http://{headers.get('host')}", f"https://{headers.get('host')}")


async def page(request):
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


# --- the live page: /ws -------------------------------------------------------------------------------

async def live(websocket):
    state = websocket.app.state
    await websocket.accept()
    if not same_origin(websocket.headers):
        return await websocket.close(POLICY_VIOLATION, "cross-origin connection refused")
    if state.connections >= MAX_CONNECTIONS:
        return await websocket.close(TRY_AGAIN_LATER, f"more than {MAX_CONNECTIONS} pages are connected")
    state.connections += 1
    worker = ThreadPoolExecutor(1, thread_name_prefix="signlang-session")  # a Session lives in one thread
    loop = asyncio.get_running_loop()

    def run(fn, *args):
        return loop.run_in_executor(worker, fn, *args)

    session = None
    try:
        session = await run(Session, state.predictor, state.data_path)
        await websocket.send_text(json.dumps(session.welcome()))
        await _converse(websocket, session, run)
    except Exception:
        log.exception("connection closed after an error")
        await _close(websocket, INTERNAL_ERROR, "server error")
    finally:
        if session is not None:
            await run(session.close)  # after the frame in progress, if any: one worker, in order
        worker.shutdown(wait=False)
        state.connections -= 1


async def _converse(websocket, session, run):
    """Frames into a one-frame slot (a newer frame replaces a waiting one), worked off one at a time;
    control messages (JSON text) answered in turn. Returns when the page goes; raises on a server fault."""
    slot, ready, sending = [None], asyncio.Event(), asyncio.Lock()

    async def send(message):
        async with sending:
            await websocket.send_text(json.dumps(message))

    async def work():
        while True:
            await ready.wait()
            ready.clear()
            data, slot[0] = slot[0], None
            try:
                message = await run(session.frame, data)
            except SignlangError as error:
                message = {"type": "error", "error": str(error), "frame": True}
            await send(message)

    async def receive():
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                data = message["bytes"]
                if len(data) > MAX_FRAME_BYTES:
                    await send({"type": "error", "error": f"frame of {len(data) / 2**20:.1f} MB: more than the "
                                f"{MAX_FRAME_BYTES // 2**20} MB a frame may have; it was dropped", "frame": True})
                    continue
                slot[0] = data
                ready.set()
                continue
            try:
                command = json.loads(message.get("text") or "")
                reply = await run(session.command, command)
            except SignlangError as error:
                reply = {"type": "error", "error": str(error)}
            except (ValueError, TypeError, AttributeError) as error:  # not JSON, or not a message we know
                await send({"type": "error", "error": f"message not understood ({error}); closing"})
                return await _close(websocket, UNSUPPORTED_DATA, "message not understood")
            await send(reply)

    tasks = [asyncio.create_task(work()), asyncio.create_task(receive())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    for task in done:
        if task.exception() and not _gone(task.exception()):
            raise task.exception()


def _gone(error):
    """The page went away while we were sending (not a server fault)."""
    from starlette.websockets import WebSocketDisconnect
    return isinstance(error, (WebSocketDisconnect, OSError)) or (
        isinstance(error, RuntimeError) and "close" in str(error).lower())


async def _close(websocket, code, reason):
    try:
        await websocket.close(code, reason)
    except Exception:  # already closed
        pass


# --- video files: /upload and /results -----------------------------------------------------------------

def detect_video(path, out, predictor):
    """What `signlang detect --source path --out out --json` computes: the summary plus the sign events."""
    signs = []
    summary = realtime.run(open_source(path, config.FPS), predictor, out=out, on_sign=signs.append)
    return {**summary, "signs": signs}


def _error(status, message):
    return JSONResponse({"error": message}, status_code=status)


async def upload(request):
    state = request.app.state
    if not same_origin(request.headers):
        return _error(403, "cross-origin upload refused")
    name = Path(request.query_params.get("name") or "video.mp4").name
    suffix = Path(name).suffix.lower()
    if suffix not in VIDEO_EXTENSIONS:
        return _error(400, f"{name}: not a video file ({', '.join(VIDEO_EXTENSIONS)})")
    limit = f"more than the {MAX_UPLOAD_BYTES // 2**20} MB a video may have"
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        return _error(413, f"{name}: {int(declared) / 2**20:.0f} MB, {limit}")
    job = state.results / secrets.token_hex(8)
    job.mkdir()
    video, size = job / f"upload{suffix}", 0
    try:
        with open(video, "wb") as file:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    shutil.rmtree(job, ignore_errors=True)
                    return _error(413, f"{name}: {limit}")
                file.write(chunk)
        if size == 0:
            shutil.rmtree(job, ignore_errors=True)
            return _error(400, f"{name}: the file is empty")
        async with state.video_lock:  # one video at a time: each takes the CPU for a while
            summary = await run_in_threadpool(detect_video, video, job / "annotated.mp4", state.predictor)
    except SignlangError as error:
        shutil.rmtree(job, ignore_errors=True)
        return _error(400, str(error).replace(str(video), name))
    except BaseException:  # the page went away mid-upload, or a server fault: leave nothing behind
        shutil.rmtree(job, ignore_errors=True)
        raise
    finally:
        video.unlink(missing_ok=True)
    _keep_newest(state.results)
    return JSONResponse({**summary, "name": name, "video": f"/results/{job.name}/annotated.mp4"})


def _keep_newest(results):
    jobs = sorted((p for p in results.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in jobs[:-MAX_RESULTS]:
        shutil.rmtree(old, ignore_errors=True)


async def result(request):
    job = request.path_params["job"]
    path = request.app.state.results / job / "annotated.mp4"
    if not re.fullmatch(r"[0-9a-f]{16}", job) or not path.is_file():
        return _error(404, "no such result (only the last few are kept)")
    return FileResponse(path, media_type="video/mp4", filename="annotated.mp4")


# --- running the server ------------------------------------------------------------------------------------

def url(host, port):
    shown = "127.0.0.1" if host in WILDCARD_HOSTS else host
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


def listen(host, port):
    """A listening socket on host:port (port 0: any free port); SignlangError when that is not possible."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as error:
        raise SignlangError(f"--host {host}: {error.strerror or error}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        hint = " (port in use: pick another with --port)" if error.errno == 98 else ""
        raise SignlangError(f"cannot listen on {host}:{port}: {error.strerror or error}{hint}") from None
    return sock


def prepare(model_path=config.MODEL_PATH, host="127.0.0.1", port=8000, data_path=config.DATA_PATH):
    """(uvicorn server, its socket, the page's address): the model is loaded and the port taken."""
    sock = listen(host, port)  # first: a port in use is reported before the model loads
    try:
        app = create_app(model_path, data_path, host)
    except BaseException:
        sock.close()
        raise
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws_max_size=4 * MAX_FRAME_BYTES,
                                           ws_ping_interval=None, access_log=False))
    return server, sock, url(host, sock.getsockname()[1])


def serve(model_path=config.MODEL_PATH, host="127.0.0.1", port=8000, data_path=config.DATA_PATH):
    """Runs the server until Ctrl-C, after printing the page's address."""
    server, sock, address = prepare(model_path, host, port, data_path)
    print(f"signlang serve: open {address} in a browser (Ctrl-C stops)", flush=True)
    server.run(sockets=[sock])


def serve_in_background(model_path=config.MODEL_PATH, host="127.0.0.1", port=8000, data_path=config.DATA_PATH):
    """Starts the server in a daemon thread (for a notebook); returns (address, stop function)."""
    server, sock, address = prepare(model_path, host, port, data_path)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="signlang-serve")
    thread.start()

    def stop():
        server.should_exit = True
        thread.join()
    return address, stop

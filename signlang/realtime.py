"""Real-time detection: the loop from a camera, video or image folder through Holistic and the Detector
(signlang.detector, the decision rules) to the display, the video file and the printed signs.

Holistic works one frame ahead in a thread. TensorFlow is loaded only to make the LiteRT predictor
(signlang.predictor); the camera, the window and the video file appear only here and in signlang.display.
"""

import json
import queue
import threading
import time

import cv2

from signlang import config, keypoints as kp
from signlang.detector import Detector, check_threshold, stable_frames
from signlang.display import VideoSink, annotate, bar_colors, shown_and_quit
from signlang.errors import SignlangError
from signlang.predictor import load_predictor
from signlang.sources import is_camera, open_source


def detect(source, model_path=config.MODEL_PATH, out=None, show=False, threshold=config.THRESHOLD,
           json_lines=False, fps=config.FPS):
    """Runs detection on a camera index, video file or image folder; prints each recognised sign.

    json_lines: stdout gets one {"event": "sign", ...} line per sign and a final {"event": "summary", ...}
    line, nothing else; otherwise readable lines. Returns the summary.
    """
    check_threshold(threshold)
    try:
        frames = open_source(source, fps)
    except SignlangError as error:
        hint = " (for example --source clip.mp4, or make demo SOURCE=clip.mp4)" if is_camera(source) else ""
        raise SignlangError(f"{error}{hint}") from None
    predictor = load_predictor(model_path)
    emit = _printer(json_lines)
    summary = run(frames, predictor, threshold, fps, out, show, on_sign=emit)
    emit(summary)
    return summary


def run(frames, predictor, threshold=config.THRESHOLD, fps=config.FPS, out=None, show=False, on_sign=None):
    """The real-time loop over Frames sampled at `fps`: Holistic, decision, then the annotated frame to a
    window (`show`, q quits) and/or the video file `out`. Holistic works one frame ahead in a thread
    while this frame is drawn and written. Ctrl-C ends the stream like q. Returns the summary event.
    """
    detector = Detector(predictor, predictor.actions, threshold, stable_frames(fps), no_sign=predictor.no_sign)
    sink = VideoSink(out, fps) if out else None
    colors, count, t, complete = bar_colors(len(detector.signs)), 0, 0.0, False
    with kp.open_holistic() as holistic:
        detections = _ahead((frame, *kp.mediapipe_detection(frame.image, holistic)) for frame in frames)
        start = time.perf_counter()
        try:
            for count, (frame, image, results) in enumerate(detections, 1):
                t, sign = frame.t, detector.push(kp.extract_keypoints(results), frame.t)
                if sign and on_sign:
                    on_sign(_sign_event(sign, detector.confidences[-1], t))
                if sink or show:
                    image = annotate(image, results, detector, colors)
                if sink:
                    sink.write(image)
                if show and shown_and_quit(image):
                    break
            complete = True
        except KeyboardInterrupt:  # a headless camera run ends here: its outputs are still finished
            complete = True
        finally:
            detections.close()
            if sink:
                sink.close(complete)
            if show:
                cv2.destroyAllWindows()
        elapsed = time.perf_counter() - start
    given = detector.flush()  # the end of the stream may still give signs
    for sign, p in zip(given, detector.confidences[len(detector.confidences) - len(given):]):
        if on_sign:
            on_sign(_sign_event(sign, p, t))
    # The stream's length from its frames' times: a video slower than `fps` gives fewer frames a second.
    seconds = t + (t / (count - 1) if count > 1 else 1 / fps) if count else 0.0
    return {"event": "summary", "sentence": detector.words, "frames": count, "seconds": round(seconds, 3),
            "fps": round(count / elapsed, 2) if count else 0.0}


def _ahead(items, depth=2):
    """Iterates `items` in a thread, up to `depth` items ahead; closing the generator stops the thread."""
    buffer, stop, end = queue.Queue(depth), threading.Event(), object()

    def put(item):
        while not stop.is_set():
            try:
                return buffer.put(item, timeout=0.1)
            except queue.Full:
                pass

    def work():
        try:
            for item in items:
                if stop.is_set():
                    return
                put(item)
            put(end)
        except BaseException as error:  # handed to the consumer, raised there
            put(error)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        while (item := buffer.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _sign_event(sign, p, t):
    """p: the sign's mean probability over the predictions that gave it (not the last one's, which after
    the end of a stream belongs to a later window)."""
    return {"event": "sign", "sign": sign, "p": round(float(p), 4), "t": round(t, 3)}


def _printer(json_lines):
    def emit(event):
        if json_lines:
            print(json.dumps(event), flush=True)
        elif event["event"] == "sign":
            print(f"{event['t']:7.2f} s  {event['sign']}  (p={event['p']:.2f})", flush=True)
        else:
            print(f"sentence: {' '.join(event['sentence']) or '(none)'}; {event['frames']} frames "
                  f"at {event['fps']} frames/s", flush=True)
    return emit

"""Real-time detection speed, as ratios measured side by side in one run on the shared clips.

1. One window's prediction: the LiteRT predictor vs the tutorial's `model.predict`, and the largest
   difference between their probabilities, on every sliding window of the clips' real keypoints; for the
   model file and for the tutorial's LSTM architecture (untrained: the cost does not depend on training).
2. The whole loop (Holistic, decision, and with --out the drawing and video writing) vs Holistic alone on
   the same decoded, sampled frames, interleaved clip by clip so a shared machine's load hits both alike.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from signlang import config, keypoints as kp, realtime as rt  # noqa: E402
from signlang.predictor import load_predictor  # noqa: E402
from signlang.sources import open_source  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"


def median_ms(fn, args, repeat):
    times = []
    for arg in args[:repeat]:
        start = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def prediction(model_path, windows, label):
    from signlang.model import load_model
    keras_model, predict = load_model(model_path), load_predictor(model_path)
    predict(windows[0])  # first call allocates
    litert = median_ms(predict, windows, len(windows))
    tutorial = median_ms(lambda w: keras_model.predict(np.expand_dims(w, axis=0), verbose=0), windows, 30)
    diff = np.abs(np.stack([predict(w) for w in windows]) - keras_model.predict(windows, verbose=0)).max()
    print(f"{label}: one window {litert:.3f} ms median (LiteRT) vs {tutorial:.1f} ms (model.predict): "
          f"{tutorial / litert:.0f}x faster; max |p - Keras| = {diff:.1e} over {len(windows)} windows")


def holistic_alone(frames):
    with kp.open_holistic() as holistic:
        for frame in frames:
            kp.mediapipe_detection(frame.image, holistic)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=config.MODEL_PATH, help="model file (.h5)")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the clips in the loop measurement")
    args = parser.parse_args()
    videos = sorted((SHARED / "videos").glob("*.mp4"))
    if not videos or not Path(args.model).is_file():
        sys.exit(f"bench/realtime.py needs the shared clips ({SHARED / 'videos'}) and a model ({args.model})")

    clips = [list(open_source(v, config.FPS)) for v in videos]  # decoded once: both sides see the same frames
    n = sum(map(len, clips))
    print(f"{len(clips)} shared clips, {n} frames sampled at {config.FPS:g} fps, model {args.model}")

    with kp.open_holistic() as holistic:
        rows = np.stack([kp.extract_keypoints(kp.mediapipe_detection(f.image, holistic)[1])
                         for frames in clips for f in frames])
    windows = np.lib.stride_tricks.sliding_window_view(rows, config.SEQUENCE_LENGTH, axis=0).transpose(0, 2, 1)
    windows = np.ascontiguousarray(windows)
    prediction(args.model, windows, args.model)
    with tempfile.TemporaryDirectory() as tmp:
        from signlang.model import build_model, load_actions, save
        tutorial = Path(tmp) / "tutorial.h5"
        save(build_model(len(load_actions(args.model))), tutorial, load_actions(args.model))
        prediction(tutorial, windows, "tutorial LSTM architecture")

        predictor, out = load_predictor(args.model), os.path.join(tmp, "annotated.mp4")
        runs = {"holistic": holistic_alone, "json": lambda frames: rt.run(frames, predictor),
                "out": lambda frames: rt.run(frames, predictor, out=out)}
        seconds = {k: 0.0 for k in runs}
        for _ in range(args.rounds):
            for frames in clips:  # interleaved clip by clip: the machine's load hits all three alike
                for k, fn in runs.items():
                    start = time.perf_counter()
                    fn(frames)
                    seconds[k] += time.perf_counter() - start
    rate = {k: args.rounds * n / s for k, s in seconds.items()}
    ratio = {k: rate[k] / rate["holistic"] for k in ("json", "out")}
    print(f"loop: Holistic alone {rate['holistic']:.1f} frames/s; "
          f"detect --json {rate['json']:.1f} frames/s ({ratio['json']:.2f}x); "
          f"detect --out {rate['out']:.1f} frames/s ({ratio['out']:.2f}x) "
          f"[{args.rounds} rounds interleaved clip by clip, load average {os.getloadavg()[0]:.1f}]")


if __name__ == "__main__":
    main()

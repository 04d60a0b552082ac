"""`signlang <step>`: one thin sub-command per pipeline step; the work happens in the modules."""

import argparse
import os
import sys

# Before TensorFlow and MediaPipe load: keep their start-up chatter off the terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")

from signlang import config  # noqa: E402
from signlang.errors import SignlangError  # noqa: E402


def count(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {value}")
    return value


def cmd_extract(args):
    from signlang.extract import extract
    from signlang.labels import read_actions
    if args.action is not None:
        clips = [(video, args.action) for video in args.videos]
    elif len(args.videos) == 1 and (os.path.isdir(args.videos[0]) or args.videos[0].lower().endswith(".csv")):
        clips = read_actions(args.videos[0])
    else:
        raise SignlangError("extract: give --action with video files, or one folder <root>/<action>/<clip> or one "
                            "CSV file of rows file,action")
    workers = args.workers or (None if args.ray is not None else 1)
    outcome = extract(clips, args.data, fps=args.fps, workers=workers, force=args.force, ray=args.ray)
    print(f"wrote {len(outcome.written)} sequences of {outcome.extracted} clips to {args.data}"
          + (f"; {outcome.skipped} clips were done before" if outcome.skipped else ""))
    if outcome.failed:
        print(f"{len(outcome.failed)} clips gave no sequences:", *outcome.failed, sep="\n  ", file=sys.stderr)
        raise SignlangError(f"{len(outcome.failed)} of {len(clips)} clips gave no sequences (listed above); "
                            "--force tries them again")


def cmd_collect(args):
    from signlang.collect import collect
    from signlang.sources import has_display
    folders = collect(args.actions, args.sequences, args.length, args.data, source=args.source, fps=args.fps,
                      show=has_display() and not args.no_window)
    print(f"wrote {len(folders)} sequences to {args.data}")


def cmd_train(args):
    from signlang import data, train
    dataset = data.load(args.data, skip_bad=args.skip_bad)
    print(f"training on {len(dataset.y)} sequences of {dataset.actions} from {len(set(dataset.groups))} groups",
          file=sys.stderr)
    train.train(dataset, args.model, args.logdir, actions=args.actions, recipe=args.recipe, members=args.members,
                epochs=args.epochs, batch_size=args.batch_size, patience=args.patience, seed=args.seed,
                no_sign=not args.no_idle)
    print(f"saved {args.model} and its training curve {os.path.splitext(args.model)[0]}.png")


def cmd_evaluate(args):
    import json
    from signlang import data, evaluate
    if args.videos is not None:
        if args.plot or args.skip_bad:
            raise SignlangError("--plot and --skip-bad apply to --data, not to --videos")
        result = evaluate.evaluate_videos(args.videos, args.model, fps=args.fps or config.FPS,
                                          threshold=config.THRESHOLD if args.threshold is None else args.threshold,
                                          progress=not args.json)
        print(json.dumps(result) if args.json else evaluate.format_videos_text(result))
        return
    if args.threshold is not None or args.fps is not None:
        raise SignlangError("--threshold and --fps apply to --videos, not to --data")
    dataset = data.load(args.data, skip_bad=args.skip_bad, progress=not args.json)
    result = evaluate.evaluate(args.model, dataset)
    if args.plot:
        evaluate.plot_confusion(result, args.plot)
    print(json.dumps(result) if args.json else evaluate.format_text(result))


def cmd_detect(args):
    from signlang.realtime import detect
    from signlang.sources import has_display
    detect(args.source, args.model, out=args.out, show=has_display() and not args.no_window,
           threshold=args.threshold, json_lines=args.json)


def cmd_export(args):
    from signlang.predictor import export
    export(args.model, args.out)
    print(f"wrote {args.out}")


def cmd_add_sign(args):
    from signlang import enroll
    enroll.add_sign_command(args.names, args.model, args.out, data_path=args.data, source=args.source,
                            examples=args.examples, remove=args.remove, fps=args.fps,
                            show=not args.no_window, own_examples=args.own_examples)


def cmd_serve(args):
    from signlang.web import serve
    serve(args.model, args.host, args.port, args.data)


def port_number(text):
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535 (0: any free port), not {value}")
    return value


def cmd_doctor(args):
    from signlang import doctor
    code = doctor.main(args.model, as_json=args.json)
    if code:
        sys.exit(code)  # 1: a problem was found (not a user error: that is 2)


def build_parser():
    parser = argparse.ArgumentParser(prog="signlang", description="Sign-language recognition with MediaPipe Holistic and an LSTM.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("extract", help="video files -> MP_Data/<action>/<sequence>/<frame>.npy, resumable")
    p.add_argument("videos", nargs="+", metavar="CLIPS",
                   help="with --action: video files (mp4, mov, mkv, webm, avi, gif) or image folders; without: one "
                        "folder <root>/<action>/<clip> or one CSV file of rows file,action")
    p.add_argument("--action", help="the sign shown in the video files")
    p.add_argument("--data", default=config.DATA_PATH, help="MP_Data folder to add sequences to")
    p.add_argument("--fps", type=positive_float, default=config.FPS, help="keypoint sampling rate (frames/s)")
    p.add_argument("--workers", type=positive_int,
                   help="clips processed in parallel (default 1; with --ray: one Ray actor per CPU of the cluster)")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run on Ray (pip install signlang[ray]): a local Ray without ADDRESS, else the cluster at "
                        "ADDRESS (e.g. auto, ray://head:10001)")
    p.add_argument("--force", action="store_true", help="extract clips again that were done (or failed) before")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("collect", help="the tutorial's guided recording session -> MP_Data")
    p.add_argument("--actions", nargs="+", default=list(config.ACTIONS), help="signs to record")
    p.add_argument("--sequences", type=positive_int, default=config.NO_SEQUENCES, help="recordings per sign")
    p.add_argument("--length", type=positive_int, default=config.SEQUENCE_LENGTH, help="frames per recording")
    p.add_argument("--data", default=config.DATA_PATH, help="MP_Data folder to add sequences to")
    p.add_argument("--source", default="0", help="camera index, video file or image folder")
    p.add_argument("--fps", type=positive_float, default=config.FPS, help="keypoint sampling rate (frames/s)")
    p.add_argument("--no-window", action="store_true", help="do not open a window")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("train", help="train a model on MP_Data folders or archives")
    p.add_argument("--data", nargs="+", default=[config.DATA_PATH],
                   help="MP_Data folders, .npz/.npz.xz archives or folders of archives (one group each)")
    p.add_argument("--model", default=config.MODEL_PATH, help="model file to write (.h5); curve PNG beside it")
    p.add_argument("--logdir", default=config.LOG_DIR, help="TensorBoard runs go to a new folder in here")
    p.add_argument("--actions", nargs="+",
                   help="the signs, in output order (default: the data's, the tutorial's first); other signs "
                        "in the data are learnt by a veto network that turns them into 'no sign' (shipped recipe; "
                        "left out with --no-idle)")
    p.add_argument("--no-idle", action="store_true",
                   help=f"no '{config.NO_SIGN}' output: every window is one of the signs (the tutorial's model); "
                        f"by default the model also learns 'no sign' from {config.NO_SIGN}/ folders and from rest "
                        "windows cut from the recordings")
    p.add_argument("--recipe", choices=("shipped", "tutorial"), default="shipped",
                   help="shipped: normalised features, augmentation, conv net; tutorial: the notebook's LSTM")
    p.add_argument("--members", type=positive_int,
                   help=f"networks averaged into the model (default: {config.MEMBERS} shipped, 1 tutorial)")
    p.add_argument("--epochs", type=positive_int, default=config.EPOCHS, help="at most this many epochs (each member)")
    p.add_argument("--patience", type=positive_int, default=config.PATIENCE, help="early stopping: epochs without progress")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-bad", action="store_true", help="skip (and count) bad sequences instead of stopping")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="accuracy of a model on MP_Data, or of detection on labelled clips")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--data", nargs="+", default=[config.DATA_PATH],
                      help="MP_Data folders, .npz/.npz.xz archives or folders of archives")
    what.add_argument("--videos", metavar="PATH",
                      help=f"labelled clips run through the detector: a CSV of file,signs (signs space-separated, "
                           f"empty = no sign) or a folder <sign>/<clip>, {config.NO_SIGN}/<clip> = no sign")
    p.add_argument("--model", default=config.MODEL_PATH, help="model file (.h5)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout, nothing else")
    p.add_argument("--plot", help="write the confusion matrix as this PNG")
    p.add_argument("--skip-bad", action="store_true", help="skip (and count) bad sequences instead of stopping")
    p.add_argument("--threshold", type=float, help=f"--videos: probability a sign needs (default {config.THRESHOLD})")
    p.add_argument("--fps", type=positive_float, help=f"--videos: sampling rate, frames/s (default {config.FPS:g})")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("detect", help="real-time detection on a camera, video or image folder")
    p.add_argument("--source", default="0", help="camera index, video file or image folder")
    p.add_argument("--model", default=config.MODEL_PATH, help="model file (.h5)")
    p.add_argument("--out", help="write the annotated video here (.mp4 or .avi)")
    p.add_argument("--no-window", action="store_true", help="do not open a window (automatic without a display)")
    p.add_argument("--json", action="store_true", help="stdout: one JSON line per sign, then a summary line")
    p.add_argument("--threshold", type=float, default=config.THRESHOLD,
                   help="probability a sign needs to enter the sentence (0..1)")
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("export", help="action.h5 -> LiteRT (.tflite) model")
    p.add_argument("--model", default=config.MODEL_PATH, help="model file (.h5)")
    p.add_argument("--out", required=True, help="LiteRT file to write (.tflite)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("add-sign", help="add your own signs to a model from a few examples (or --remove one)")
    p.add_argument("names", nargs="*", metavar="NAME", help="the new signs (MP_Data/<NAME>/<seq>/ folders)")
    p.add_argument("--model", default=config.MODEL_PATH, help="model to build on (.h5); it is never changed")
    p.add_argument("--out", required=True, help="the new model file to write (.h5)")
    p.add_argument("--data", default=config.DATA_PATH,
                   help="MP_Data folder holding the examples (MP_Data/<NAME>/<seq>/), and where --source records them")
    p.add_argument("--source", help="first record the examples here, the guided way of `collect`: camera index, "
                                    "video file or image folder")
    p.add_argument("--examples", type=positive_int, default=config.ENROLL_EXAMPLES,
                   help="--source: recordings per new sign")
    p.add_argument("--own-examples", type=count, default=config.OWN_EXAMPLES,
                   help="--source: then recordings of each sign the model knows, your own way, unless --data holds "
                        "them (0: none); they keep your own signs from being taken for the new ones")
    p.add_argument("--fps", type=positive_float, default=config.FPS, help="--source: keypoint sampling rate (frames/s)")
    p.add_argument("--no-window", action="store_true", help="--source: do not open a window")
    p.add_argument("--remove", metavar="NAME", help="write the model without this added sign instead")
    p.set_defaults(func=cmd_add_sign)

    p = sub.add_parser("serve", help="the live demo as a local web page (the browser's camera, a video file, recording)")
    p.add_argument("--model", default=config.MODEL_PATH, help="model file (.h5)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: this machine only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=port_number, default=8000, help="port to listen on (0: any free port)")
    p.add_argument("--data", default=config.DATA_PATH, help="MP_Data folder the page's recordings go to")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("doctor", help="check the set-up (versions, MediaPipe, camera, display, model, cache) and explain fixes")
    p.add_argument("--model", default=config.MODEL_PATH, help="model file to check (.h5)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    p.set_defaults(func=cmd_doctor)
    return parser


def silence_native_logs():
    """MediaPipe and TensorFlow log from C++ straight to file descriptor 2, past any Python setting.

    Point descriptor 2 at /dev/null and keep Python's own stderr (messages, progress bars) on the
    terminal. SIGNLANG_NATIVE_LOGS=1 keeps the native logs, for debugging.
    """
    if os.environ.get("SIGNLANG_NATIVE_LOGS") == "1":
        return
    sys.stderr.flush()
    terminal = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(terminal, "w", buffering=1)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except SignlangError as error:
        print(f"signlang: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def run():
    """The `signlang` console script."""
    silence_native_logs()
    sys.exit(main())


if __name__ == "__main__":
    run()

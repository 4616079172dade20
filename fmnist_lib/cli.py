"""`python -m fmnist_lib`: train, evaluate, predict and explain from the command line.

A public contract people script against: JSON on stdout, one object per line, never
NaN or Infinity (see json_line); messages on stderr; exit status 0 on success, 1 when
some images failed (`predict`), the image or test index asked for cannot be used
(`explain`) or the trained model cannot be saved (`train`, `default-model`), 2 when the
checkpoint, the data, the lesson file (`lesson check`: one line per problem) or the arguments are unusable.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from collections.abc import Callable, Sequence

from . import __name__ as _pkg
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import AUGMENTATIONS, OPTIMIZERS, SCHEDULES, TrainConfig, default_config
from .data import DataError, FashionMNIST, load_fashion_mnist
from .explain import explain
from .heap import keep_freed_memory
from .images.decode import ImageError
from .images.preprocess import preprocess_image
from .inference import accuracy
from .lessons import LessonError, load_lesson
from .model_cache import cache_dir, fit_or_load
from .models import MODEL_KINDS
from .run import TrainingRun
from .threads import apply as apply_threads

EXIT_OK, EXIT_SOME_FAILED, EXIT_UNUSABLE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors: one line, status 2, as argparse does
        self.exit(EXIT_UNUSABLE, f"{self.prog}: error: {message}\n")


def _int_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number, at least `low`."""

    def parse(s: str) -> int:
        v = int(s)
        if v < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {s}")
        return v

    parse.__name__ = "int"  # argparse names the type in "invalid int value: 'x'"
    return parse


_positive_int, _non_negative_int = _int_at_least(1), _int_at_least(0)


def _add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=_positive_int,
        help="torch threads for the maths; default: the model's, measured (fmnist_lib/threads.py: softmax 1). "
        "Another count may change the last bits of the weights (docs/threads.md)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"python -m {_pkg}", description="Fashion-MNIST softmax regression lab.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a model; one JSON line per epoch; writes a checkpoint")
    _add_settings(t, model_default="softmax")
    t.add_argument("--data", help="folder with the Fashion-MNIST files (else $FMNIST_DATA, ./data, Debian's)")
    t.add_argument("--out", required=True, help="where to write the checkpoint")
    _add_threads(t)

    d = sub.add_parser("data", help="find, check and load the dataset; print where it is and its counts")
    d.add_argument("--data")
    d.add_argument("--no-download", action="store_true", help="do not try torchvision's download")

    dm = sub.add_parser(
        "default-model",
        help="check the data, then train the app's default model (the tutorial's softmax) once and save it "
        "for the app's starts (exit 1 if it cannot be saved)",
    )
    dm.add_argument("--data")
    dm.add_argument("--no-download", action="store_true", help="do not try torchvision's download")
    _add_threads(dm)

    e = sub.add_parser("evaluate", help='print {"test_acc": ...} for a checkpoint')
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--data")
    _add_threads(e)

    pr = sub.add_parser("predict", help="Top-k classes of image files, one JSON line per image")
    pr.add_argument("--checkpoint", required=True)
    pr.add_argument("--top", type=_positive_int, default=3, help="how many classes (default 3)")
    pr.add_argument("--json", action="store_true", help="JSON lines (the default; kept for scripts)")
    pr.add_argument(
        "--mirror",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="read each image the way Fashion-MNIST's shoes face (left, the heavier heel on the right): "
        "its mirror image when its weight lies left of its middle, both averaged when it is balanced; a "
        "model trained on mirror images (augment) always averages both; "
        'the JSON\'s "view" says which (default: on)',
    )
    pr.add_argument("--pipeline", choices=("ours", "tutorial"), default="ours", help=argparse.SUPPRESS)
    pr.add_argument("images", nargs="+", metavar="IMAGE")

    ex = sub.add_parser(
        "explain",
        help="one prediction step by step (logits, probabilities, loss, gradient) as one JSON object",
    )
    ex.add_argument("--checkpoint", required=True)
    ex.add_argument("--data", help="where the test images are (only for --test-index)")
    which = ex.add_mutually_exclusive_group(required=True)
    which.add_argument("--test-index", type=int, metavar="I", help="a test image, 0 to 9999 (its label is known)")
    which.add_argument("image", nargs="?", metavar="IMAGE", help="an image file (no label: loss and gradient null)")
    ex.add_argument(
        "--mirror",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="for an IMAGE: explain the view predict's mirror step reads, its mirror image when the garment "
        'faces right and the model was not trained on mirror images; the JSON\'s "view" says which (default: on)',
    )
    ls = sub.add_parser("lesson", help="lesson files (see docs/lessons.md)")
    lsub = ls.add_subparsers(dest="lesson_command", required=True, parser_class=_Parser)
    lc = lsub.add_parser(
        "check",
        help="validate a lesson file: exit 0, or 2 with one line per problem (file, step, field, what is wrong)",
    )
    lc.add_argument("file", metavar="FILE")

    nb = sub.add_parser(
        "notebook",
        help="write a run as a Jupyter notebook (plain PyTorch, the tutorial's code) that trains it again: "
        "from a --checkpoint, or from settings as for train",
    )
    nb.add_argument("--checkpoint", help="the run to write out (its settings, scaling and epochs trained)")
    _add_settings(nb, model_default=None)
    nb.add_argument("--out", required=True, help="where to write the notebook (.ipynb)")
    return p


# The settings flags of train (and notebook): their argparse dest names, to tell whether any was given.
SETTINGS = ("model", "epochs", "lr", "batch_size", "optimizer", "weight_decay", "schedule", "seed", "augment")


def _add_settings(parser: argparse.ArgumentParser, model_default: str | None) -> None:
    """The run's settings as flags, each defaulting to the model's recommended value."""
    parser.add_argument("--model", choices=MODEL_KINDS, default=model_default, help="default softmax")
    parser.add_argument("--epochs", type=_positive_int, help="default: the model's (softmax 10)")
    parser.add_argument("--lr", type=float, help="learning rate; default: the model's (softmax 0.1)")
    parser.add_argument("--batch-size", type=_positive_int, help="default: the model's (softmax 256)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help="default: the model's (softmax sgd)")
    parser.add_argument("--weight-decay", type=float, help="default 0")
    parser.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule; default: the model's")
    parser.add_argument("--seed", type=_non_negative_int, help="default 0")
    parser.add_argument(
        "--augment",
        choices=AUGMENTATIONS,
        help="train on random mirror images (mirror), also shifted and rescaled (mirror+shift); "
        "default: the model's (softmax off, cnn mirror)",
    )


def _finite_or_null(value):
    """value with every NaN or infinite float (in dicts, lists, tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(v) for v in value]
    return value


def json_line(obj: dict) -> str:
    """The one way the CLI writes JSON: NaN and Infinity are not JSON, so they become null."""
    return json.dumps(_finite_or_null(obj), allow_nan=False)


def _emit(obj: dict) -> None:
    print(json_line(obj), flush=True)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_UNUSABLE


def _load_data(args) -> FashionMNIST:
    """The data set the command names; a DataError reaches main's one handler. What the user should
    know about it (a folder they named that was not used) is a warning line on stderr."""
    data = load_fashion_mnist(args.data, download=not getattr(args, "no_download", False))
    for note in data.notes:
        print(f"warning: {' '.join(note.split())}", file=sys.stderr)
    return data


def _load_run(args) -> TrainingRun:
    """The checkpoint the command names; a CheckpointError reaches main's one handler."""
    return load_checkpoint(args.checkpoint)


def _config(args) -> TrainConfig:
    """The TrainConfig the settings flags name (ValueError for a bad one)."""
    given = {name: getattr(args, name) for name in SETTINGS if name != "model"}
    return default_config(args.model or "softmax", **given)


def cmd_train(args) -> int:
    try:
        config = _config(args)
    except ValueError as e:
        return _fail(str(e))
    problem = _unwritable_folder(args.out)
    if problem is not None:  # said before any training, not after minutes of it
        return _fail(problem)
    _prepare_training(config.model, args.threads)
    data = _load_data(args)
    run = TrainingRun(config, classes=data.classes)
    run.fit(data, on_epoch=lambda s: _emit(s.to_dict()))
    try:
        save_checkpoint(run, args.out)
    except OSError as e:  # a full disk, say: the training is lost, but not with a traceback
        reason = e.strerror or (str(e).splitlines() or [type(e).__name__])[0]
        print(f"warning: {run.message} The checkpoint could not be written to {args.out}: {reason}.", file=sys.stderr)
        return EXIT_SOME_FAILED
    print(f"{run.message} Checkpoint written to {args.out}.", file=sys.stderr)
    return EXIT_OK if run.status != "diverged" else EXIT_SOME_FAILED


def _unwritable_folder(out: str, what: str = "checkpoint", example: str = "model.pt") -> str | None:
    """Why a file (a checkpoint) cannot be written to out's folder, or None when it looks writable."""
    folder = os.path.dirname(os.path.abspath(out))
    if os.path.isdir(out):
        return f"--out {out} is a folder; give a file name for the {what}, e.g. {os.path.join(out, example)}"
    if not os.path.isdir(folder):
        return f"the folder {folder} for --out does not exist; create it first (mkdir -p {folder})"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} for --out cannot be written by this user; choose another --out"
    return None


def _data_info(data) -> dict:
    """Where the data was read from and its counts (the `data` and `default-model` commands)."""
    return {"source": data.source, "train": len(data.train_labels), "test": len(data.test_labels)}


def cmd_data(args) -> int:
    data = _load_data(args)
    _emit({**_data_info(data), "classes": list(data.classes)})
    return EXIT_OK


def cmd_default_model(args) -> int:
    folder = cache_dir()
    if folder is None:
        return _fail("saving models is switched off ($FMNIST_MODEL_CACHE=off); nothing to do")
    config = default_config("softmax")
    _prepare_training(config.model, args.threads)
    data = _load_data(args)
    run, path, trained_now = fit_or_load(config, data, folder, test_every_epoch=False)
    _emit(
        {
            "path": str(path) if path is not None else None,
            "trained_now": trained_now,
            "test_acc": run.test_acc,
            "data": _data_info(data),
        }
    )
    if path is None:
        print(f"warning: {run.message} The app will train it at each start.", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


def _prepare_training(model: str, threads: int | None) -> None:
    """This process set up as the app's training workers are: the thread policy's torch threads for `model`
    (or `threads`), and the heap they use (heap.py: no batch faulted in again per test pass)."""
    apply_threads(model, threads)
    keep_freed_memory()


def cmd_evaluate(args) -> int:
    run = _load_run(args)
    apply_threads(run.kind, args.threads)
    data = _load_data(args)
    _emit({"test_acc": accuracy(run.model, run.scaling, data.test_images, data.test_labels)})
    return EXIT_OK


def cmd_predict(args) -> int:
    classifier = _load_run(args).classifier()
    failed = False
    for path in args.images:
        try:
            pre = preprocess_image(path, pipeline=args.pipeline)
        except ImageError as e:
            _emit({"file": path, "error": str(e)})
            failed = True
            continue
        step = classifier.predict_both_ways(pre.pixels, k=args.top)
        prediction = step.combined if args.mirror else step.own
        if not bool(prediction.probs.isfinite().all()):  # the model is broken: no ranking means anything
            _emit(
                {
                    "file": path,
                    "error": "The model's probabilities for this image are not finite numbers (NaN "
                    "or infinity): the checkpoint's weights or input scaling are broken.",
                }
            )
            failed = True
            continue
        top = prediction.top(0)
        view = {1.0: "image", 0.0: "mirror image", 0.5: "both averaged"}[float(step.own_weight[0])]
        _emit({"file": path, "top": top, "mirror": args.mirror, **({"view": view} if args.mirror else {})})
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _one_line_error(message: str) -> int:
    """A bad test index or image: the one thing asked for cannot be answered (status 1, as for predict)."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_SOME_FAILED


def cmd_explain(args) -> int:
    classifier = _load_run(args).classifier()
    view = {}
    if args.image is not None:
        try:
            pixels, label = preprocess_image(args.image).pixels, None
        except ImageError as e:
            return _one_line_error(f"{args.image}: {e}")
        if args.mirror:
            pixels, mirrored = classifier.view_read(pixels)
            view = {"view": "mirror image" if mirrored else "image"}
    else:
        data = _load_data(args)
        n = len(data.test_labels)
        if not 0 <= args.test_index < n:
            return _one_line_error(f"--test-index must be from 0 to {n - 1}, got {args.test_index}")
        pixels, label = data.test_images[args.test_index], int(data.test_labels[args.test_index])
    _emit({**explain(classifier, pixels, label).to_json(), **view})
    return EXIT_OK


def cmd_lesson(args) -> int:
    """`lesson check FILE`: a JSON line with the lesson's counts, or one line per problem on stderr."""
    try:
        lesson = load_lesson(args.file)
    except LessonError as e:
        for line in e.problems:
            print(line, file=sys.stderr)
        return EXIT_UNUSABLE
    _emit(
        {
            "lesson": lesson.name,
            "title": lesson.title,
            "steps": len(lesson.items) - len(lesson.exercises),
            "exercises": len(lesson.exercises),
        }
    )
    return EXIT_OK


def cmd_notebook(args) -> int:
    from .notebook import notebook_args, notebook_bytes  # here: nbformat costs every other command ~0.3 s

    given = [f"--{name.replace('_', '-')}" for name in SETTINGS if getattr(args, name) is not None]
    if args.checkpoint is not None and given:
        return _fail(f"give --checkpoint or settings, not both: a checkpoint's run has its own ({', '.join(given)})")
    problem = _unwritable_folder(args.out, "notebook", "run.ipynb")
    if problem is not None:
        return _fail(problem)
    try:
        kwargs = notebook_args(load_checkpoint(args.checkpoint)) if args.checkpoint else {"config": _config(args)}
    except (CheckpointError, ValueError) as e:
        return _fail(" ".join(str(e).split()))  # one line, whatever the message
    data = notebook_bytes(**kwargs)
    tmp = f"{args.out}.{os.getpid()}.part"
    try:  # via a temporary file: a failed write leaves no half notebook behind
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, args.out)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return _fail(f"the notebook could not be written to {args.out}: {e.strerror or e}")
    config = kwargs["config"]
    epochs = kwargs.get("epochs", config.epochs)
    print(f"Notebook of a {config.model} run ({epochs} epochs) written to {args.out}.", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {
        "train": cmd_train,
        "data": cmd_data,
        "default-model": cmd_default_model,
        "evaluate": cmd_evaluate,
        "predict": cmd_predict,
        "explain": cmd_explain,
        "lesson": cmd_lesson,
        "notebook": cmd_notebook,
    }[args.command]
    try:
        return handler(args)
    except (DataError, CheckpointError) as e:  # the data or checkpoint a command names is unusable
        return _fail(str(e))
    except KeyboardInterrupt:
        return _fail("interrupted")
    except BrokenPipeError:
        return EXIT_OK

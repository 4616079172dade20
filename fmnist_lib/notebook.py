"""A run as a Jupyter notebook: the tutorial's code, corrected, with the run's settings.

The notebook is plain PyTorch (it never imports fmnist_lib), so a learner can take it home or open
it in Colab. It reproduces the lab's run draw for draw: the weights come from a generator seeded
with the run's seed and drawn in the order models.build_model draws them, the shuffling (and the
augmentation) from a second generator seeded the same way, as TrainingRun does, batches are sliced
from uint8 tensors as loop.train_epoch slices them, and pixels are scaled by the run's
InputScaling. The notebook's updates are torch.optim's, which optim.py follows exactly, so the
final test accuracy agrees with the lab's (README, "The run as a notebook", has the numbers).

Code cells are written for the run (only its model, optimizer, schedule and augmentation
appear); the settings cell holds the numbers. Every value written into code is repr() of a
validated setting or a class name, so nothing a checkpoint holds can become code.
"""

from __future__ import annotations

import textwrap

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from .config import DEFAULT_SCALING, ONECYCLE_START, ONECYCLE_WARMUP, TrainConfig
from .data import CLASSES
from .scaling import InputScaling

# The markdown and code tags a test (or a reader) can find a cell by.
TAG_DATA, TAG_TRAIN, TAG_RESULT, TAG_UPLOAD = "data", "train", "result", "upload"
# The last line of the result cell: what a script (tests/test_notebook.py) reads the accuracy from.
RESULT_PREFIX = "test accuracy: "

_MODEL_TEXT = {
    "softmax": "softmax regression (the tutorial's Flatten + Linear)",
    "cnn": "the lab's small CNN (two convolution blocks)",
}
_OPTIMIZER_TEXT = {"sgd": "plain SGD", "momentum": "SGD with momentum 0.9", "adam": "Adam"}


def notebook_for(
    config: TrainConfig,
    scaling: InputScaling | None = None,
    *,
    epochs: int | None = None,
    classes: tuple[str, ...] = CLASSES,
    lab_accuracy: float | None = None,
    part_epoch: bool = False,
) -> NotebookNode:
    """The notebook that trains `config` again: its cells, with markdown that explains each step.

    scaling: the run's input scaling (default: the model's). epochs: how many epochs to train
    (default config.epochs; a run stopped early trained fewer, and the schedule is still laid out
    over config.epochs). lab_accuracy: the lab's final test accuracy, quoted for comparison.
    part_epoch: the run's last epoch was stopped part-way (the notebook trains it whole).
    """
    config = config.validate()
    scaling = scaling if scaling is not None else DEFAULT_SCALING[config.model]
    epochs = config.epochs if epochs is None else epochs
    if not (isinstance(epochs, int) and 1 <= epochs <= 1000):
        raise ValueError(f"epochs must be a whole number from 1 to 1000, not {epochs!r}")
    classes = tuple(str(c) for c in classes)
    if len(classes) != 10:
        raise ValueError(f"a Fashion-MNIST run has 10 classes, not {len(classes)}")
    cells = [
        _md(_intro(config, scaling, epochs, lab_accuracy, part_epoch)),
        _md(_SETUP_MD),
        _code(_SETUP),
        _code(_settings(config, scaling, epochs, classes)),
        _md(_DATA_MD),
        _code(_DATA, TAG_DATA),
        _md(_SCALING_MD),
        _code(_SCALING),
        _md(_MODEL_MD[config.model]),
        _code(_MODEL[config.model]),
        _md(_LOSS_MD),
        _code(_loss_and_optimizer(config)),
        _md(_schedule_md(config)),
        _code(_schedule(config)),
    ]
    if config.augment != "off":
        cells += [_md(_AUGMENT_MD[config.augment]), _code(_augment(config))]
    cells += [
        _md(_EVALUATE_MD),
        _code(_EVALUATE),
        _md(_TRAIN_MD),
        _code(_train(config), TAG_TRAIN),
        _md(_RESULT_MD),
        _code(_result(lab_accuracy), TAG_RESULT),
        _md(_GRID_MD),
        _code(_GRID),
        _md(_UPLOAD_MD),
        _code(_UPLOAD, TAG_UPLOAD),
        _md(_NOTES_MD),
    ]
    nb = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            # What the notebook was made from, for a script to read (the cells say it to people).
            "fmnist_lab": {
                "config": config.to_dict(),
                "scaling": scaling.to_dict(),
                "epochs": epochs,
                "lab_test_accuracy": lab_accuracy,
            },
        },
    )
    nbformat.validate(nb)
    return nb


def notebook_bytes(config: TrainConfig, scaling: InputScaling | None = None, **kwargs) -> bytes:
    """notebook_for(...) as the bytes of an .ipynb file (UTF-8 JSON)."""
    return nbformat.writes(notebook_for(config, scaling, **kwargs)).encode("utf-8")


def notebook_args(run) -> dict:
    """notebook_for's arguments for a TrainingRun (trained, continued, stopped or loaded)."""
    history = run.history
    return {
        "config": run.config,
        "scaling": run.scaling,
        "epochs": len(history) or run.config.epochs,  # an untrained run: the epochs it is set up for
        "classes": run.classes,
        "lab_accuracy": run.test_acc,
        "part_epoch": bool(history) and not history[-1].complete,
    }


def _paragraphs(*parts: str) -> str:
    """Markdown parts written at different indents, each dedented, joined by a blank line."""
    return "\n\n".join(textwrap.dedent(p).strip() for p in parts)


def _md(text: str) -> NotebookNode:
    return new_markdown_cell(textwrap.dedent(text).strip())


def _code(source: str, tag: str | None = None) -> NotebookNode:
    cell = new_code_cell(textwrap.dedent(source).strip())
    if tag is not None:
        cell.metadata["tags"] = [tag]
    return cell


# --- the introduction and settings ---------------------------------------------------------------------


def _intro(config: TrainConfig, scaling: InputScaling, epochs: int, lab_accuracy: float | None, part: bool) -> str:
    augment = {"off": "none", "mirror": "random mirror images", "mirror+shift": "mirror images, shifts, rescaling"}
    rows = [
        ("model", _MODEL_TEXT[config.model]),
        ("optimizer", _OPTIMIZER_TEXT[config.optimizer]),
        ("learning rate", f"{config.lr:g}"),
        ("schedule", config.schedule),
        ("weight decay", f"{config.weight_decay:g}"),
        ("batch size", str(config.batch_size)),
        ("epochs", str(config.epochs) if epochs == config.epochs else f"{epochs} of {config.epochs}"),
        ("augmentation", augment[config.augment]),
        ("seed", str(config.seed)),
        ("input scaling", f"(pixel / 255 - {scaling.mean:g}) / {scaling.std:g}"),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    lab = f"The lab's run reached a test accuracy of **{lab_accuracy:.2%}**. " if lab_accuracy is not None else ""
    stopped = ""
    if epochs < config.epochs:
        stopped = (
            f"\n\nThe lab's run was stopped after {epochs} of its {config.epochs} epochs: this notebook trains "
            f"those {epochs}, with the learning-rate schedule laid out over {config.epochs}."
        )
    if part:
        stopped += (
            "\n\nIts last epoch was stopped part-way; here it is trained whole, so the accuracy can differ a little."
        )
    return "\n".join(
        [
            "# Fashion-MNIST with PyTorch: a run from the softmax lab",
            "",
            "The code of the tutorial *Learn Softmax Regression with PyTorch* (Flatten + Linear on Fashion-MNIST, on",
            "the CPU), corrected, with the settings of one run of the lab:",
            "",
            "| setting | value |",
            "|---|---|",
            table,
            "",
            f"{lab}Run the cells from top to bottom: the same seed draws the same initial weights and the same "
            "batches as the lab did, so this notebook reaches the same accuracy (to a few hundredths of a point: "
            "the sums are computed in a different order). Plain PyTorch and torchvision, nothing from the lab."
            f"{stopped}",
        ]
    )


def _settings(config: TrainConfig, scaling: InputScaling, epochs: int, classes: tuple[str, ...]) -> str:
    names = ",\n".join(f"    {c!r}" for c in classes)
    return f"""
# The run's settings. The numbers can be changed here; the model, optimizer, schedule and
# augmentation are written into the cells below (export another notebook from the lab for others).
MODEL = {config.model!r}
OPTIMIZER = {config.optimizer!r}
SCHEDULE = {config.schedule!r}
AUGMENT = {config.augment!r}
LR = {config.lr!r}  # the learning rate (the peak of the schedule)
WEIGHT_DECAY = {config.weight_decay!r}  # L2 penalty added to every gradient; 0 = none
BATCH_SIZE = {config.batch_size!r}  # examples per gradient step
EPOCHS = {config.epochs!r}  # the run's length: the schedule is laid out over this many epochs
TRAIN_EPOCHS = {epochs!r}  # how many of them to train here
SEED = {config.seed!r}  # seeds the initial weights and the shuffling: same seed, same run
PIXEL_MEAN, PIXEL_STD = {scaling.mean!r}, {scaling.std!r}  # the model's input: (pixel / 255 - mean) / std
# The class names in label order (the dataset's own: torchvision's FashionMNIST.classes).
classes = [
{names},
]
"""


# --- set-up and data ------------------------------------------------------------------------------

_SETUP_MD = """
    ## 1. Set-up: PyTorch on the CPU

    Import PyTorch and fix everything to the CPU. A progress bar comes from `tqdm` when it is installed
    (Colab has it); without it each epoch prints one line.
"""

_SETUP = """
    import gzip
    import math
    import os
    import warnings
    from pathlib import Path

    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn

    device = torch.device("cpu")  # the whole notebook runs on the CPU, as the lab does

    try:
        with warnings.catch_warnings():  # tqdm.auto warns when it finds no notebook widgets: it falls back to text
            warnings.simplefilter("ignore")
            from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    print("torch", torch.__version__, "on", device)
"""

_DATA_MD = """
    ## 2. The data: Fashion-MNIST

    60,000 training and 10,000 test images of 28x28 grey pixels (0-255), ten kinds of clothing. The tutorial
    downloads them with `torchvision.datasets.FashionMNIST(download=True)`, as Colab does. Where a copy is already
    on the machine (a folder named by `$FMNIST_DATA`, `./data`, or Debian's `/usr/share/datasets/fashion-mnist`
    from the package `dataset-fashion-mnist`) the four IDX files are read from there, raw or gzipped, without
    downloading anything.

    **A change from the tutorial:** the images stay in memory as one `uint8` tensor and each batch is sliced
    out of it, instead of a `DataLoader` with `transforms.ToTensor()`. It is several times faster for a model this
    small, and the shuffle becomes one `torch.randperm` per epoch from the run's own generator: exactly how the
    lab shuffles, so the batches here are the lab's batches.
"""

_DATA = """
    IDX_FILES = {
        "train_images": "train-images-idx3-ubyte",
        "train_labels": "train-labels-idx1-ubyte",
        "test_images": "t10k-images-idx3-ubyte",
        "test_labels": "t10k-labels-idx1-ubyte",
    }


    def find_local_copy():
        \"\"\"The first folder that holds the four IDX files (raw, .gz, or torchvision's FashionMNIST/raw/).\"\"\"
        folders = [Path(os.environ["FMNIST_DATA"]).expanduser()] if os.environ.get("FMNIST_DATA") else []
        folders += [Path("data"), Path("/usr/share/datasets/fashion-mnist")]
        for folder in folders:
            found = {}
            for key, name in IDX_FILES.items():
                for where in (folder, folder / "FashionMNIST" / "raw"):
                    for path in (where / name, where / (name + ".gz")):
                        if key not in found and path.is_file():
                            found[key] = path
            if len(found) == len(IDX_FILES):
                return folder, found
        return None, None


    def read_idx(path):
        \"\"\"An IDX file of unsigned bytes (magic 0x0801 labels, 0x0803 images) as a uint8 tensor.\"\"\"
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            data = f.read()
        magic, ndim = int.from_bytes(data[:4], "big"), data[3]
        if magic not in (0x0801, 0x0803):
            raise ValueError(f"{path} is not an IDX file of bytes (magic number {magic:#x})")
        shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
        offset = 4 + 4 * ndim
        if len(data) != offset + math.prod(shape):
            raise ValueError(f"{path} is truncated or damaged: {len(data)} bytes for shape {shape}")
        return torch.from_numpy(np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape).copy())


    folder, files = find_local_copy()
    if files is not None:
        train_images, train_labels, test_images, test_labels = (read_idx(files[k]) for k in IDX_FILES)
        print("Fashion-MNIST read from", folder)
    else:  # the tutorial's way: torchvision downloads the files into ./data (found there next time)
        from torchvision import datasets

        train_ds = datasets.FashionMNIST(root="./data", train=True, download=True)
        test_ds = datasets.FashionMNIST(root="./data", train=False, download=True)
        train_images, train_labels = train_ds.data, train_ds.targets
        test_images, test_labels = test_ds.data, test_ds.targets
    train_labels, test_labels = train_labels.long(), test_labels.long()
    print(tuple(train_images.shape), train_images.dtype, tuple(test_images.shape))  # (60000, 28, 28) uint8 ...
    classes
"""

_SCALING_MD = """
    ## 3. From pixels to model inputs: one function, used everywhere

    The model sees `x = (pixel / 255 - mean) / std`, with the mean and std this run was trained with (above).
    **The tutorial's upload bug:** it trains on `ToTensor()`'s `[0, 1]` pixels (mean 0, std 1) but scales an
    uploaded photo with Fashion-MNIST's mean 0.2860 and std 0.3530, so the model is shown inputs unlike any it was
    trained on, and its Top-3 for a photo is mostly noise. Here `to_input` is the only place pixels become inputs:
    training, the test set and the upload all go through it.
"""

_SCALING = """
    def to_input(images):
        \"\"\"uint8 pixels [N, 28, 28] -> float32 model inputs [N, 1, 28, 28], scaled as the model was trained.\"\"\"
        x = images.reshape(-1, 1, 28, 28).to(torch.float32)
        if PIXEL_MEAN == 0.0:
            return x.mul_(1.0 / (255.0 * PIXEL_STD))  # [0, 1] pixels when std is 1 (the tutorial's ToTensor)
        return x.mul_(1.0 / 255.0).sub_(PIXEL_MEAN).div_(PIXEL_STD)
"""

_INIT_NOTE = """
    **The seed.** The lab draws a run's initial weights from a generator of its own, seeded with the run's
    seed, never from torch's global random state (`torch.manual_seed`), so that other code running at the same time
    cannot change them. The cell below makes the same draws in the same order, so the weights are the lab's.
"""

_MODEL_MD = {
    "softmax": _paragraphs(
        """
        ## 4. The model: softmax regression (Flatten + Linear)

        `Flatten` turns each 28x28 image into 784 numbers and `Linear(784 -> 10)` gives one score (a *logit*) per
        class: `logits = x @ W.T + b`. Row `c` of `W` is a 28x28 template of which pixels count for class `c`.
        The model outputs raw logits only: softmax is applied later, inside the loss.

        The weights start as in the tutorial: normal with std 0.01, bias 0.
    """,
        _INIT_NOTE,
        """
        The lab builds the layer first with PyTorch's default initialisation (kaiming-uniform weights, uniform
        bias) and then overwrites it with the tutorial's: those first draws are thrown away, but they move the
        generator, so they are made here too.
    """,
    ),
    "cnn": _paragraphs(
        """
        ## 4. The model: a small CNN

        The tutorial's closing note suggests it: two convolution blocks (3x3 convolution, batch normalisation,
        ReLU, 2x2 max-pooling) and a small classifier, about 220,000 weights.
        `[N,1,28,28] -> conv 16 -> [N,16,14,14] -> conv 32 -> [N,32,7,7] -> 1568 -> 128 -> 10 logits`.
        Batch normalisation lets Adam train it fast and stably. Like the softmax model it outputs logits only.

        The weights start with PyTorch's default initialisation of every layer (kaiming-uniform weights,
        uniform biases; batch normalisation starts at scale 1, shift 0).
    """,
        _INIT_NOTE,
    ),
}

_MODEL = {
    "softmax": """
        net = nn.Sequential(
            nn.Flatten(),  # [N, 1, 28, 28] -> [N, 784]
            nn.Linear(784, 10),  # logits = x @ W.T + b, W: [10, 784]
        ).to(device)

        init_generator = torch.Generator().manual_seed(SEED)  # the initial weights' own generator
        linear = net[1]
        with torch.no_grad():
            # 1) PyTorch's default init, drawn from the generator (the lab's first draws; overwritten below)
            nn.init.kaiming_uniform_(linear.weight, a=math.sqrt(5), generator=init_generator)
            bound = 1 / math.sqrt(linear.in_features)
            nn.init.uniform_(linear.bias, -bound, bound, generator=init_generator)
            # 2) the tutorial's: weights N(0, 0.01), bias 0
            nn.init.normal_(linear.weight, mean=0.0, std=0.01, generator=init_generator)
            nn.init.zeros_(linear.bias)
        net
    """,
    "cnn": """
        net = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),  # [N, 16, 28, 28]
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),  # [N, 16, 14, 14]
            nn.Conv2d(16, 32, kernel_size=3, padding=1),  # [N, 32, 14, 14]
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),  # [N, 32, 7, 7]
            nn.Flatten(),  # [N, 1568]
            nn.Linear(32 * 7 * 7, 128),
            nn.ReLU(),
            nn.Linear(128, 10),  # logits
        ).to(device)

        init_generator = torch.Generator().manual_seed(SEED)  # the initial weights' own generator
        with torch.no_grad():
            for m in net.modules():  # PyTorch's default init, layer by layer, drawn from the generator
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=init_generator)
                    bound = 1 / math.sqrt(m.weight[0].numel())  # 1 / sqrt(fan_in)
                    nn.init.uniform_(m.bias, -bound, bound, generator=init_generator)
        print(sum(p.numel() for p in net.parameters()), "weights")
        net
    """,
}

_LOSS_MD = """
    ## 5. The loss and the optimizer

    **Where is softmax?** Inside the loss. `nn.CrossEntropyLoss` takes the raw logits and computes
    `log_softmax` followed by the negative log-likelihood of the true class (`LogSoftmax + NLLLoss`) in one step.
    Softmax itself is applied only where probabilities are shown (the prediction grid and the upload below).

    **Why is it stable?** `log_softmax(z)_c = z_c - log(sum_j exp(z_j))`, and the sum is computed with the
    *log-sum-exp* trick: `log(sum_j exp(z_j)) = m + log(sum_j exp(z_j - m))` with `m = max_j z_j`. Every exponent is
    then at most 0, so nothing overflows even for logits in the thousands, and nothing underflows to `log(0)`.
    Computing `softmax` first and then its `log` would give `inf` or `nan` for large logits.
"""


def _loss_and_optimizer(config: TrainConfig) -> str:
    make = {
        "sgd": "torch.optim.SGD(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)",
        "momentum": "torch.optim.SGD(net.parameters(), lr=LR, momentum=0.9, weight_decay=WEIGHT_DECAY)",
        "adam": "torch.optim.Adam(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)  # betas (0.9, 0.999)",
    }[config.optimizer]
    return f"""
loss_fn = nn.CrossEntropyLoss()  # log-softmax + negative log-likelihood, on logits, averaged over the batch
optimizer = {make}
optimizer
"""


def _schedule_md(config: TrainConfig) -> str:
    text = {
        "constant": "The learning rate stays at `LR` for every epoch, as in the tutorial.",
        "cosine": (
            "**Cosine:** epoch `e` (1-based) trains at `LR * (1 + cos(pi * (e - 1) / EPOCHS)) / 2`: the full rate "
            "first, then smoothly lower towards 0, which steadies the final accuracy."
        ),
        "onecycle": (
            f"**One-cycle:** the rate changes at every step. Over the first {ONECYCLE_WARMUP:.0%} of all steps it "
            f"climbs from `LR / {ONECYCLE_START:g}` to `LR`, then falls along a cosine to about 0 at the end: large "
            "steps early, small ones to settle."
        ),
    }[config.schedule]
    return f"## 6. The learning-rate schedule\n\n{text}"


def _schedule(config: TrainConfig) -> str:
    if config.schedule == "constant":
        return """
def lr_at(epoch, step, steps_per_epoch):
    \"\"\"The learning rate at (0-based) step of (1-based) epoch: constant.\"\"\"
    return LR
"""
    if config.schedule == "cosine":
        return """
def lr_at(epoch, step, steps_per_epoch):
    \"\"\"Cosine, set once per epoch (step is ignored); held at its last value past EPOCHS.\"\"\"
    e = min(epoch, EPOCHS) - 1
    return LR * 0.5 * (1.0 + math.cos(math.pi * e / EPOCHS))


[round(lr_at(e, 0, 1), 6) for e in range(1, EPOCHS + 1)]
"""
    return f"""
ONECYCLE_WARMUP = {ONECYCLE_WARMUP!r}  # the fraction of all steps spent climbing
ONECYCLE_START = {ONECYCLE_START!r}  # the climb starts at LR / ONECYCLE_START


def lr_at(epoch, step, steps_per_epoch):
    \"\"\"One-cycle's learning rate at (0-based) step of (1-based) epoch; its last value past the end.\"\"\"
    t = min(1.0, ((epoch - 1) * steps_per_epoch + step) / (EPOCHS * steps_per_epoch))  # 0 -> 1 over the run
    start = LR / ONECYCLE_START
    if t < ONECYCLE_WARMUP:
        return start + (LR - start) * t / ONECYCLE_WARMUP
    return LR * 0.5 * (1.0 + math.cos(math.pi * (t - ONECYCLE_WARMUP) / (1.0 - ONECYCLE_WARMUP)))
"""


# --- augmentation ---------------------------------------------------------------------------------

_AUGMENT_MD = {
    "mirror": """
        ## 7. Augmentation: mirror images

        Every Fashion-MNIST shoe points left, so a model trained on them alone is fooled by a shoe pointing right.
        Each training image is mirrored left-right with probability 1/2, decided by the run's own generator (five
        random numbers per image, as the lab draws them, so the same images are mirrored as in the lab).
    """,
    "mirror+shift": """
        ## 7. Augmentation: mirror images, shifts and rescaling

        Every Fashion-MNIST shoe points left and every garment fills its frame the same way, so a model trained
        on them alone is fooled by a shoe pointing right or a garment drawn a little smaller. Each training image is
        mirrored with probability 1/2, shifted by up to 2 whole pixels in x and y, and 30% of the images are
        rescaled by 0.9-1.1 about the centre (linear interpolation). All of it is one linear resampling per image,
        `out = Ry @ x @ Rx.T`, with random numbers from the run's own generator (five per image, as the lab draws
        them), rounded back to `uint8` pixels.
    """,
}


def _augment(config: TrainConfig) -> str:
    if config.augment == "mirror":
        return """
def augment(images, generator):
    \"\"\"uint8 [B, 28, 28] -> uint8 [B, 28, 28]: each image mirrored left-right with probability 1/2.\"\"\"
    u = torch.rand(len(images), 5, generator=generator)  # [B, 5]; the lab draws 5 numbers per image either way
    flip = u[:, 0] < 0.5
    return torch.where(flip[:, None, None], images.flip(-1), images)
"""
    return """
def tent_matrix(n, mirror, scale, shift):
    \"\"\"Linear-interpolation weights along one axis, [B, n_out, n_in]: output pixel j samples the input at
    src = mirror * (j - centre - shift) / scale + centre, input pixel i weighs max(0, 1 - |src - i|).\"\"\"
    centre = (n - 1) / 2
    pos = torch.arange(n, dtype=torch.float32) - centre
    src = mirror[:, None] * (pos[None, :] - shift[:, None]) / scale[:, None] + centre  # [B, n]
    return (1.0 - (src[:, :, None] - torch.arange(n, dtype=torch.float32)).abs()).clamp_(min=0.0)


def augment(images, generator):
    \"\"\"uint8 [B, 28, 28] -> uint8 [B, 28, 28]: random mirror, whole-pixel shift (up to 2), some rescaling.\"\"\"
    b = len(images)
    u = torch.rand(b, 5, generator=generator)  # [B, 5]: flip, dx, dy, rescale or not, scale
    flip = u[:, 0] < 0.5
    shift = (u[:, 1:3] * 5).floor_().clamp_(max=4) - 2  # [B, 2] whole pixels from -2 to 2
    scale = torch.where(u[:, 3] < 0.3, 0.9 + 0.2 * u[:, 4], 1.0)  # [B]
    rx = tent_matrix(28, torch.where(flip, -1.0, 1.0), scale, shift[:, 0])  # [B, 28, 28]
    ry = tent_matrix(28, torch.ones(b), scale, shift[:, 1])  # [B, 28, 28]
    out = torch.bmm(torch.bmm(ry, images.to(torch.float32)), rx.transpose(1, 2))
    return out.round_().clamp_(0, 255).to(torch.uint8)
"""


# --- evaluation, training, results -----------------------------------------------------------------

_EVALUATE_MD = """
    ## Evaluation

    The fraction of test images whose largest logit is the true class. `model.eval()` switches batch normalisation
    (if any) to its running statistics; `torch.no_grad()` skips the bookkeeping for gradients.
"""

_EVALUATE = """
    @torch.no_grad()
    def evaluate(model, images, labels, batch_size=2000):
        model.eval()
        correct = 0
        for i in range(0, len(labels), batch_size):
            logits = model(to_input(images[i : i + batch_size]))
            correct += (logits.argmax(dim=1) == labels[i : i + batch_size]).sum().item()
        return correct / len(labels)
"""

_TRAIN_MD = """
    ## Training

    Each epoch: one random order of the 60,000 images (`torch.randperm` from the run's generator), then for each
    batch: forward (logits, no softmax), the loss (softmax inside), `zero_grad`, `backward`, `step`. The training
    loss and accuracy are averaged over the epoch while the weights change; the test accuracy is measured after it.
    A loss that becomes infinite or NaN means the learning rate is too large: the loop stops and says so.
"""


def _train(config: TrainConfig) -> str:
    onecycle = config.schedule == "onecycle"
    per_epoch = [
        "    for group in optimizer.param_groups:  # the epoch's rate (loop.py sets lr_at at every step: the same within an epoch)",
        "        group['lr'] = lr_at(epoch, 0, steps)",
    ]
    per_step = [
        "        for group in optimizer.param_groups:  # one-cycle: a new rate at every step (as loop.py)",
        "            group['lr'] = lr_at(epoch, step, steps)",
    ]
    augmented = config.augment != "off"
    lines = [
        "generator = torch.Generator().manual_seed(SEED)  # the run's own generator: the shuffling"
        + (" and the augmentation" if augmented else ""),
        "n = len(train_labels)",
        "steps = math.ceil(n / BATCH_SIZE)",
        "history = []",
        "for epoch in range(1, TRAIN_EPOCHS + 1):",
        *([] if onecycle else per_epoch),
        "    net.train()",
        "    order = torch.randperm(n, generator=generator)",
        "    loss_sum, correct = 0.0, 0",
        '    bar = tqdm(range(steps), desc=f"epoch {epoch}", leave=False) if tqdm is not None else range(steps)',
        "    for step in bar:",
        *(per_step if onecycle else []),
        "        idx = order[step * BATCH_SIZE : (step + 1) * BATCH_SIZE]",
        "        images, y = train_images[idx], train_labels[idx]  # [B, 28, 28] uint8, [B]",
        *(["        images = augment(images, generator)  # new random copies, every epoch"] if augmented else []),
        "        logits = net(to_input(images))  # forward: logits (no softmax)",
        "        loss = loss_fn(logits, y)  # softmax inside: log-softmax + NLL",
        "        if not math.isfinite(loss.item()):",
        '            raise RuntimeError(f"the loss became {loss.item()} in epoch {epoch}: the learning rate is too large")',
        "        optimizer.zero_grad()",
        "        loss.backward()",
        "        optimizer.step()",
        "        loss_sum += loss.item() * len(y)",
        "        correct += (logits.argmax(dim=1) == y).sum().item()",
        "    test_acc = evaluate(net, test_images, test_labels)",
        "    history.append((epoch, loss_sum / n, correct / n, test_acc))",
        "    print(",
        "        f\"epoch {epoch:02d} | lr={optimizer.param_groups[0]['lr']:.4g} | train_loss={loss_sum / n:.4f} | \"",
        '        f"train_acc={correct / n:.4f} | test_acc={test_acc:.4f}"',
        "    )",
    ]
    return "\n".join(lines)


_RESULT_MD = """
    ## Result
"""


def _result(lab_accuracy: float | None) -> str:
    lab = f'\nprint("the lab\'s run: {lab_accuracy:.4f}")' if lab_accuracy is not None else ""
    return f"""
test_acc = evaluate(net, test_images, test_labels){lab}
print(f"{RESULT_PREFIX}{{test_acc:.4f}}")
"""


_GRID_MD = """
    ## Predictions with their confidence

    Eight test images picked at random (by a generator seeded with `SEED`, so the same eight every time), with
    the predicted class, the true class and the model's confidence: the softmax probability of its prediction.
    This is where softmax is applied explicitly: only to show probabilities. (The picture needs `matplotlib`;
    without it the same is printed.)
"""

_GRID = """
    pick = torch.randperm(len(test_labels), generator=torch.Generator().manual_seed(SEED))[:8]
    images, y = test_images[pick], test_labels[pick]
    net.eval()
    with torch.no_grad():
        logits = net(to_input(images))
        probs = F.softmax(logits, dim=1)  # for display only
        pred = logits.argmax(dim=1)
    for i in range(8):
        print(f"test image {pick[i].item():5d}: pred {classes[pred[i]]:12s} true {classes[y[i]]:12s} "
              f"conf {probs[i, pred[i]].item():.2f}")
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    if plt is not None:
        plt.figure(figsize=(12, 3.5))
        for i in range(8):
            plt.subplot(2, 4, i + 1)
            plt.imshow(images[i], cmap="gray")
            plt.title(f"pred:{classes[pred[i]]}\\ntrue:{classes[y[i]]}\\nconf:{probs[i, pred[i]].item():.2f}", fontsize=9)
            plt.axis("off")
        plt.tight_layout()
        plt.show()
"""

_UPLOAD_MD = """
    ## Your own photo: Top-3

    Upload a photo of one garment (in Colab the cell asks for it; elsewhere set `image_path`), turn it into a
    Fashion-MNIST-style 28x28 image and show the three most likely classes. The tutorial's steps, **fixed**:

    * the 28x28 image goes through `to_input`, the model's own input scaling (the tutorial scaled it with
      Fashion-MNIST's mean and std although its model was trained on `[0, 1]` pixels);
    * the photo is turned upright as the camera recorded it (EXIF orientation), and a transparent background
      becomes white before the colours are dropped (the tutorial ignored both).

    The rest is the tutorial's: grey, inverted when the background is bright (Fashion-MNIST garments are light
    on black), contrast stretched, the longest side shrunk to 20 pixels and centred on a black 28x28 canvas.
    The lab's Upload page does more (it finds the garment, crops it and stands it upright).
"""

_UPLOAD = """
    from PIL import Image, ImageOps, ImageStat

    image_path = ""  # a photo of one garment; in Colab leave it empty to upload one

    if not image_path:
        try:
            from google.colab import files  # only in Colab
        except ImportError:
            files = None
        if files is not None:
            uploaded = files.upload()
            image_path = next(iter(uploaded), "")


    def preprocess_to_fmnist(path):
        \"\"\"A photo -> uint8 [28, 28]: a light garment on black, as in Fashion-MNIST.\"\"\"
        img = ImageOps.exif_transpose(Image.open(path))  # upright, as the camera recorded it
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            img = img.convert("RGBA")
            white = Image.new("RGBA", img.size, (255, 255, 255, 255))
            img = Image.alpha_composite(white, img)  # transparent -> white background
        img = img.convert("L")  # grey
        if ImageStat.Stat(img).mean[0] / 255.0 > 0.5:  # a bright background: invert
            img = ImageOps.invert(img)
        img = ImageOps.autocontrast(img)
        w, h = img.size
        scale = 20 / max(w, h)  # longest side 20 px, centred on a black 28x28 canvas
        small = img.resize((max(1, int(w * scale)), max(1, int(h * scale))), resample=Image.Resampling.BILINEAR)
        canvas = Image.new("L", (28, 28), 0)
        canvas.paste(small, ((28 - small.size[0]) // 2, (28 - small.size[1]) // 2))
        return np.asarray(canvas, dtype=np.uint8).copy()


    if image_path:
        pixels = preprocess_to_fmnist(image_path)
        x = to_input(torch.from_numpy(pixels))  # THE FIX: the model's own scaling, as in training
        net.eval()
        with torch.no_grad():
            probs = torch.softmax(net(x), dim=1).squeeze(0)
        top3 = torch.topk(probs, k=3)
        for rank, (p, c) in enumerate(zip(top3.values.tolist(), top3.indices.tolist()), start=1):
            print(f"{rank}) {classes[c]:12s}: {p:.3f}")
        print("\\nPredicted:", classes[top3.indices[0].item()])
        try:
            import matplotlib.pyplot as plt

            plt.imshow(pixels, cmap="gray")
            plt.axis("off")
            plt.title("Preprocessed 28x28")
            plt.show()
        except ImportError:
            pass
    else:
        print("No image: set image_path above to a photo of a garment (in Colab, run this cell to upload one).")
"""

_NOTES_MD = """
    ### Notes

    1. **Where is softmax?** Inside `CrossEntropyLoss` during training; applied explicitly only to show
       probabilities.
    2. **Why is it stable?** The loss uses the log-sum-exp trick, so no exponential overflows.
    3. **Real photos** must be made to look like Fashion-MNIST images, *and* scaled exactly as the training
       images were: one function, `to_input`, for both.
    4. **Why the same accuracy as the lab?** The same seed, the same draws in the same order (initial weights,
       shuffles, augmentation), the same update rules. The sums inside a step are computed in a slightly different
       order, so the last digits can differ.
"""

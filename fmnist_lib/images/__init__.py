"""fmnist_lib.images: a photo or a drawing made into a Fashion-MNIST-style 28x28 image, without torch.

Header checks (image_header), safe decoding (decode), tilt estimates (deskew), the fill step for
outline drawings (outline) and the preprocessing pipelines (preprocess). These modules use numpy
and Pillow only and never import torch (tests/test_images_package.py checks it), so a tool that
only reads images starts without torch's ~1 s import; the model side takes their uint8 pixels
through fmnist_lib.scaling.
"""
